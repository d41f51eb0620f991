/* ke-chat.c — Gemma 3's chat template (chat_template.jinja), rendered byte-exactly in C,
 * and the tokenized prompt built from it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What the template does, and this file with it:
 *   - "<bos>" once;
 *   - a first message with role system is not a turn: its (first) text, untrimmed, plus
 *     "\n\n" opens the first turn of the loop;
 *   - the other messages must alternate user/model starting with user; tool results are
 *     outside that count (as in vLLM's pythonic Gemma 3 tool template), except that a run
 *     of them right after a model turn takes the user's place, so that the model's
 *     continuation after its calls' results is a model turn again;
 *   - each is "<start_of_turn>" role "\n" … "<end_of_turn>\n", role "model" for the model,
 *     every text part trimmed (Python str.strip()), every image part "<start_of_image>",
 *     which the processor expands to "\n\n<start_of_image>" + N × "<image_soft_token>" +
 *     "<end_of_image>\n\n";
 *   - tool results (KE_ROLE_TOOL) are a user turn wrapped in "<tool_response>\n" …
 *     "</tool_response>", as tool_chat_template_gemma3_pythonic.jinja renders them;
 *   - "<start_of_turn>model\n" as the generation prompt.
 * Tool declarations (options->tools_json) are not rendered here: the app puts them into
 * the first user turn's text itself (app/kestrel-chat-tools.c, docs/tool-calling.md), so
 * the field stays reserved and ignored.
 */
#include <stdlib.h>
#include <string.h>

#include "ke-tokenizer-internal.h"

void
ke_chat_options_init (ke_chat_options *options)
{
  memset (options, 0, sizeof *options);
  options->add_bos = true;
  options->add_generation_prompt = true;
  options->tools_json = NULL;
}

/* Python's str.isspace(). */
static bool
py_is_space (uint32_t c)
{
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
         c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Jinja's trim filter (str.strip()) on valid UTF-8. */
static void
py_strip (const char *s, size_t len, size_t *start, size_t *end)
{
  const unsigned char *u = (const unsigned char *) s;
  size_t a = 0, b = len;
  while (a < b) {
    uint32_t cp;
    size_t n = ke_utf8_next (u + a, b - a, &cp);
    if (!py_is_space (cp))
      break;
    a += n;
  }
  while (b > a) {
    size_t k = b - 1;
    while (k > a && (u[k] & 0xc0) == 0x80)
      k--;
    uint32_t cp;
    ke_utf8_next (u + k, b - k, &cp);
    if (!py_is_space (cp))
      break;
    b = k;
  }
  *start = a;
  *end = b;
}

static bool
check_text (const ke_chat_part *part, size_t m, size_t p, ke_error **error)
{
  if (part->text == NULL && part->text_len > 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "Message %zu, part %zu: text is NULL", m, p);
  size_t bad;
  if (part->text_len > 0 && !ke_utf8_validate (part->text, part->text_len, &bad))
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "Message %zu, part %zu is not valid UTF-8 (byte %zu)", m, p, bad);
  return true;
}

#define APPEND(buf, lit) ke_buf_append ((buf), (lit), sizeof (lit) - 1)

static bool
append_image (ke_buf *out, uint32_t mm_tokens_per_image)
{
  static const char soft[] = "<image_soft_token>";
  if (!APPEND (out, "\n\n<start_of_image>") ||
      !ke_buf_reserve (out, (size_t) mm_tokens_per_image * (sizeof soft - 1) + 32))
    return false;
  for (uint32_t i = 0; i < mm_tokens_per_image; i++)
    APPEND (out, soft);
  return APPEND (out, "<end_of_image>\n\n");
}

/* Renders into out; *n_images receives the number of image parts rendered. */
static bool
render (const ke_chat_message *messages, size_t n_messages, const ke_chat_options *options,
        uint32_t mm_tokens_per_image, ke_buf *out, size_t *n_images, ke_error **error)
{
  ke_chat_options defaults;
  if (options == NULL) {
    ke_chat_options_init (&defaults);
    options = &defaults;
  }
  if (messages == NULL || n_messages == 0)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "A chat needs at least one message");
  for (size_t m = 0; m < n_messages; m++) {
    const ke_chat_message *msg = &messages[m];
    if ((unsigned) msg->role > KE_ROLE_TOOL)
      return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Message %zu has no valid role", m);
    if (msg->parts == NULL && msg->n_parts > 0)
      return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "Message %zu: parts is NULL", m);
    for (size_t p = 0; p < msg->n_parts; p++) {
      const ke_chat_part *part = &msg->parts[p];
      if (part->kind == KE_PART_TEXT) {
        if (!check_text (part, m, p, error))
          return false;
      } else if (part->kind == KE_PART_IMAGE) {
        if (mm_tokens_per_image == 0)
          return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                               "Message %zu has an image but mm_tokens_per_image is 0", m);
      } else {
        return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                             "Message %zu, part %zu has an unknown kind", m, p);
      }
    }
  }

  bool ok = !options->add_bos || APPEND (out, "<bos>");
  /* first_user_prefix: messages[0]['content'][0]['text'] + '\n\n' */
  const char *prefix = NULL;
  size_t prefix_len = 0, first = 0;
  if (messages[0].role == KE_ROLE_SYSTEM) {
    if (messages[0].n_parts == 0 || messages[0].parts[0].kind != KE_PART_TEXT)
      return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                           "The system message must start with text");
    prefix = messages[0].parts[0].text;
    prefix_len = messages[0].parts[0].text_len;
    first = 1;
  }
  size_t turn = 0; /* index among non-tool messages, for the alternation rule */
  *n_images = 0;
  for (size_t m = first; ok && m < n_messages; m++) {
    const ke_chat_message *msg = &messages[m];
    if (msg->role == KE_ROLE_TOOL) {
      /* Results that answer a model turn's calls take the user's place in the alternation,
       * so the model's continuation after them is a model turn again:
       * user, model [calls], tool, tool, model. */
      if (turn % 2 == 0 && m > first && messages[m - 1].role == KE_ROLE_MODEL)
        turn++;
    } else {
      if ((msg->role == KE_ROLE_USER) != (turn % 2 == 0))
        return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                             "Conversation roles must alternate user/model/user/model/… "
                             "(message %zu)", m);
      turn++;
    }
    ok = APPEND (out, "<start_of_turn>");
    switch (msg->role) {
    case KE_ROLE_MODEL: ok = ok && APPEND (out, "model\n"); break;
    case KE_ROLE_SYSTEM: ok = ok && APPEND (out, "system\n"); break;
    case KE_ROLE_USER:
    case KE_ROLE_TOOL:
    default: ok = ok && APPEND (out, "user\n"); break;
    }
    if (m == first && prefix != NULL)
      ok = ok && ke_buf_append (out, prefix, prefix_len) && APPEND (out, "\n\n");
    if (msg->role == KE_ROLE_TOOL)
      ok = ok && APPEND (out, "<tool_response>\n");
    for (size_t p = 0; ok && p < msg->n_parts; p++) {
      const ke_chat_part *part = &msg->parts[p];
      if (part->kind == KE_PART_IMAGE) {
        ke_image crops[KE_PAN_AND_SCAN_MAX_CROPS];
        uint32_t n_crops = options->pan_and_scan && part->image
                             ? ke_image_pan_and_scan (part->image, crops) : 0;
        if (n_crops == 0) {
          ok = append_image (out, mm_tokens_per_image);
        } else { /* Gemma3Processor.replace_image_token */
          ok = APPEND (out, "Here is the original image ") &&
               append_image (out, mm_tokens_per_image) &&
               APPEND (out, " and here are some crops to help you see better ");
          for (uint32_t c = 0; ok && c < n_crops; c++)
            ok = (c == 0 || APPEND (out, " ")) && append_image (out, mm_tokens_per_image);
        }
        *n_images += 1 + n_crops;
      } else {
        size_t a, b;
        py_strip (part->text, part->text_len, &a, &b);
        ok = ke_buf_append (out, part->text + a, b - a);
      }
    }
    if (msg->role == KE_ROLE_TOOL)
      ok = ok && APPEND (out, "</tool_response>");
    ok = ok && APPEND (out, "<end_of_turn>\n");
  }
  if (ok && options->add_generation_prompt)
    ok = APPEND (out, "<start_of_turn>model\n");
  return ok || ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory rendering the chat");
}

char *
ke_chat_render (const ke_chat_message *messages, size_t n_messages,
                const ke_chat_options *options, uint32_t mm_tokens_per_image, size_t *len,
                ke_error **error)
{
  ke_buf out = { 0 };
  size_t n_images;
  if (!render (messages, n_messages, options, mm_tokens_per_image, &out, &n_images, error) ||
      (out.data == NULL && !ke_buf_reserve (&out, 0))) {
    ke_buf_clear (&out);
    return NULL;
  }
  out.data[out.len] = '\0';
  if (len)
    *len = out.len;
  return out.data;
}

bool
ke_chat_build (const ke_tokenizer *tokenizer, const ke_chat_message *messages,
               size_t n_messages, const ke_chat_options *options,
               uint32_t mm_tokens_per_image, ke_prompt *prompt, ke_error **error)
{
  if (tokenizer == NULL || prompt == NULL)
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT, "ke_chat_build: bad arguments");
  memset (prompt, 0, sizeof *prompt);
  ke_buf text = { 0 };
  size_t n_images = 0;
  if (!render (messages, n_messages, options, mm_tokens_per_image, &text, &n_images, error)) {
    ke_buf_clear (&text);
    return false;
  }
  ke_token *ids = NULL;
  size_t n_ids = 0;
  bool ok = ke_tokenizer_encode (tokenizer, text.data, text.len, &ids, &n_ids, error);
  ke_buf_clear (&text);
  if (!ok)
    return false;

  /* every image must come out as exactly one run of mm_tokens_per_image soft tokens, and
   * nothing else may produce soft tokens (e.g. the marker typed as text) */
  ke_token soft = ke_tokenizer_special (tokenizer, KE_SPECIAL_IMAGE_SOFT_TOKEN);
  size_t runs = 0;
  for (size_t i = 0; soft >= 0 && i < n_ids; i++) {
    if (ids[i] != soft)
      continue;
    size_t j = i;
    while (j < n_ids && ids[j] == soft)
      j++;
    if (j - i != mm_tokens_per_image) {
      free (ids);
      return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                           "The prompt has a run of %zu image tokens where %u were expected "
                           "(image markers in the text?)", j - i, mm_tokens_per_image);
    }
    runs++;
    i = j - 1;
  }
  if (n_images > 0 && soft < 0) {
    free (ids);
    return ke_set_error (error, KE_ERROR_UNSUPPORTED, "The tokenizer has no <image_soft_token>");
  }
  if (runs != n_images) {
    free (ids);
    return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                         "The prompt has %zu image token runs for %zu images (image markers "
                         "in the text?)", runs, n_images);
  }
  /* one allocation: the pointer array, then the crops' views it points to */
  bool pan_and_scan = options && options->pan_and_scan;
  void *block = ke_calloc_array (n_images + 1, sizeof (ke_image *) + sizeof (ke_image));
  if (block == NULL) {
    free (ids);
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory building the prompt");
  }
  const ke_image **images = block;
  ke_image *views = (ke_image *) (images + n_images + 1);
  size_t k = 0, n_views = 0;
  size_t first = messages[0].role == KE_ROLE_SYSTEM ? 1 : 0;
  for (size_t m = first; m < n_messages; m++)
    for (size_t p = 0; p < messages[m].n_parts; p++)
      if (messages[m].parts[p].kind == KE_PART_IMAGE) {
        const ke_image *image = messages[m].parts[p].image;
        if (image == NULL) {
          free (ids);
          free (block);
          return ke_set_error (error, KE_ERROR_INVALID_ARGUMENT,
                               "Message %zu, part %zu: the image is NULL", m, p);
        }
        images[k++] = image;
        ke_image crops[KE_PAN_AND_SCAN_MAX_CROPS];
        uint32_t n_crops = pan_and_scan ? ke_image_pan_and_scan (image, crops) : 0;
        for (uint32_t c = 0; c < n_crops && k < n_images; c++) {
          views[n_views] = crops[c];
          images[k++] = &views[n_views++];
        }
      }
  prompt->ids = ids;
  prompt->n_ids = n_ids;
  prompt->images = images;
  prompt->n_images = n_images;
  return true;
}

void
ke_prompt_clear (ke_prompt *prompt)
{
  if (prompt == NULL)
    return;
  free (prompt->ids);
  free ((void *) prompt->images);
  memset (prompt, 0, sizeof *prompt);
}
