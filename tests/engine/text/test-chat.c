/* test-chat.c — the Gemma 3 chat prompt against chat_template_golden.txt (rendered by
 * jinja2 from the real template), plus images, tool results and ke_chat_build.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "ke-tap.h"
#include "test-text-util.h"

#define MAX_MSGS 16

KE_TEST (golden)
{
  char *path = tt_shared_path ("gemma3/chat_template_golden.txt");
  size_t len;
  char *data = tt_read_all (path, &len);
  free (path);
  if (data == NULL)
    KE_SKIP ("KESTREL_SHARED_DIR/gemma3/chat_template_golden.txt not found");
  ke_chat_message msgs[MAX_MSGS];
  ke_chat_part parts[MAX_MSGS];
  size_t n_msgs = 0, n_cases = 0;
  char *save = NULL;
  for (char *line = strtok_r (data, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
    if (line[0] == 'C' && line[1] == ' ') {
      n_msgs = 0;
    } else if (line[0] == 'M' && line[1] == ' ') {
      KE_REQUIRE (n_msgs < MAX_MSGS, "too many messages");
      char *role = line + 2, *sp = strchr (role, ' ');
      char *text = sp ? sp + 1 : role + strlen (role);
      if (sp)
        *sp = '\0';
      ke_role r = strcmp (role, "system") == 0  ? KE_ROLE_SYSTEM
                  : strcmp (role, "model") == 0 ? KE_ROLE_MODEL
                                                : KE_ROLE_USER;
      size_t tl = tt_unescape (text, strlen (text));
      parts[n_msgs] = (ke_chat_part) { .kind = KE_PART_TEXT, .text = text, .text_len = tl };
      msgs[n_msgs] = (ke_chat_message) { .role = r, .parts = &parts[n_msgs], .n_parts = 1 };
      n_msgs++;
    } else if (line[0] == 'E' && line[1] == ' ') {
      char *want = line + 2;
      size_t want_len = tt_unescape (want, strlen (want));
      ke_chat_options opt;
      ke_chat_options_init (&opt);
      size_t got_len;
      ke_error *error = NULL;
      char *got = ke_chat_render (msgs, n_msgs, &opt, 256, &got_len, &error);
      KE_CHECK (got != NULL, "case %zu: %s", n_cases, error ? error->message : "");
      ke_error_free (error);
      KE_CHECK (got && got_len == want_len && memcmp (got, want, want_len) == 0,
                "case %zu:\n#  got  %s\n#  want %.*s", n_cases, got ? got : "", (int) want_len,
                want);
      free (got);
      n_cases++;
    }
  }
  KE_CHECK (n_cases == 10, "%zu golden cases", n_cases);
  free (data);
}

static char *
soft_run (uint32_t n)
{
  char *s = malloc (n * 18 + 1);
  s[0] = '\0';
  for (uint32_t i = 0; i < n; i++)
    strcat (s, "<image_soft_token>");
  return s;
}

KE_TEST (images_tools_and_errors)
{
  static const uint8_t px[12] = { 0 };
  ke_image img = { .width = 2, .height = 2, .channels = 3, .stride = 6, .pixels = px };
  ke_chat_part user_parts[] = {
    { .kind = KE_PART_TEXT, .text = " Describe ", .text_len = 10 },
    { .kind = KE_PART_IMAGE, .image = &img },
    { .kind = KE_PART_TEXT, .text = "\tand this:", .text_len = 10 },
    { .kind = KE_PART_IMAGE, .image = &img },
  };
  ke_chat_part model_part = { .kind = KE_PART_TEXT, .text = "[f(x=1)]", .text_len = 8 };
  ke_chat_part tool_part = { .kind = KE_PART_TEXT, .text = " 42\n", .text_len = 4 };
  ke_chat_message msgs[] = {
    { KE_ROLE_USER, user_parts, 4 },
    { KE_ROLE_MODEL, &model_part, 1 },
    { KE_ROLE_TOOL, &tool_part, 1 },
  };
  char *run = soft_run (4);
  char want[2048];
  snprintf (want, sizeof want,
            "<bos><start_of_turn>user\nDescribe\n\n<start_of_image>%s<end_of_image>\n\n"
            "and this:\n\n<start_of_image>%s<end_of_image>\n\n<end_of_turn>\n"
            "<start_of_turn>model\n[f(x=1)]<end_of_turn>\n"
            "<start_of_turn>user\n<tool_response>\n42</tool_response><end_of_turn>\n"
            "<start_of_turn>model\n", run, run);
  free (run);
  size_t len;
  char *got = ke_chat_render (msgs, 3, NULL, 4, &len, NULL);
  KE_CHECK (got && strcmp (got, want) == 0, "render:\n# %s", got ? got : "(null)");
  free (got);

  /* the model continues after its calls' results: user, model, tool, tool, model, user */
  ke_chat_part text_part = { .kind = KE_PART_TEXT, .text = "Done.", .text_len = 5 };
  ke_chat_message cont[] = {
    { KE_ROLE_USER, &text_part, 1 },
    { KE_ROLE_MODEL, &model_part, 1 },
    { KE_ROLE_TOOL, &tool_part, 1 },
    { KE_ROLE_TOOL, &tool_part, 1 },
    { KE_ROLE_MODEL, &text_part, 1 },
    { KE_ROLE_USER, &text_part, 1 },
  };
  got = ke_chat_render (cont, 6, NULL, 4, &len, NULL);
  KE_CHECK (got && strcmp (got, "<bos><start_of_turn>user\nDone.<end_of_turn>\n"
                                "<start_of_turn>model\n[f(x=1)]<end_of_turn>\n"
                                "<start_of_turn>user\n<tool_response>\n42</tool_response><end_of_turn>\n"
                                "<start_of_turn>user\n<tool_response>\n42</tool_response><end_of_turn>\n"
                                "<start_of_turn>model\nDone.<end_of_turn>\n"
                                "<start_of_turn>user\nDone.<end_of_turn>\n"
                                "<start_of_turn>model\n") == 0,
            "continuation after tool results:\n# %s", got ? got : "(null)");
  free (got);
  ke_chat_message two_models[] = {
    { KE_ROLE_USER, &text_part, 1 },
    { KE_ROLE_TOOL, &tool_part, 1 },
    { KE_ROLE_MODEL, &text_part, 1 },
    { KE_ROLE_MODEL, &text_part, 1 },
  };
  got = ke_chat_render (two_models, 4, NULL, 4, &len, NULL);
  KE_CHECK (got == NULL, "two model turns in a row are still refused");
  free (got);

  ke_chat_options opt;
  ke_chat_options_init (&opt);
  opt.add_bos = false;
  opt.add_generation_prompt = false;
  got = ke_chat_render (msgs + 1, 1, &opt, 4, &len, NULL);
  KE_CHECK (got == NULL, "a chat starting with the model is refused");
  free (got);
  ke_chat_message one = { KE_ROLE_USER, &model_part, 1 };
  got = ke_chat_render (&one, 1, &opt, 4, &len, NULL);
  KE_CHECK (got && strcmp (got, "<start_of_turn>user\n[f(x=1)]<end_of_turn>\n") == 0,
            "no bos, no prompt: %s", got ? got : "");
  free (got);
  ke_error *error = NULL;
  ke_chat_part bad = { .kind = KE_PART_TEXT, .text = "\xc3", .text_len = 1 };
  ke_chat_message bad_msg = { KE_ROLE_USER, &bad, 1 };
  KE_CHECK (ke_chat_render (&bad_msg, 1, NULL, 4, &len, &error) == NULL && error &&
            error->code == KE_ERROR_INVALID_ARGUMENT, "invalid UTF-8 refused");
  ke_error_free (error);

  ke_tokenizer *tok = tt_fixture_tokenizer ();
  if (tok == NULL)
    KE_SKIP ("KESTREL_SHARED_DIR/tokenizer-fixture not found");
  ke_prompt prompt;
  error = NULL;
  bool built = ke_chat_build (tok, msgs, 3, NULL, 4, &prompt, &error);
  KE_REQUIRE (built, "build: %s", error ? error->message : "");
  ke_token soft = ke_tokenizer_special (tok, KE_SPECIAL_IMAGE_SOFT_TOKEN);
  ke_token boi = ke_tokenizer_special (tok, KE_SPECIAL_START_OF_IMAGE);
  ke_token eoi = ke_tokenizer_special (tok, KE_SPECIAL_END_OF_IMAGE);
  KE_CHECK (prompt.n_images == 2 && prompt.images[0] == &img && prompt.images[1] == &img,
            "images");
  KE_CHECK (prompt.ids[0] == ke_tokenizer_special (tok, KE_SPECIAL_BOS), "bos first");
  size_t runs = 0;
  for (size_t i = 0; i < prompt.n_ids; i++)
    if (prompt.ids[i] == soft && prompt.ids[i - 1] == boi) {
      KE_CHECK (i + 4 < prompt.n_ids && prompt.ids[i + 3] == soft && prompt.ids[i + 4] == eoi,
                "run of 4 closed by end_of_image");
      runs++;
    }
  KE_CHECK (runs == 2, "%zu runs", runs);
  /* the ids are the encoding of the rendered text */
  char *text = ke_chat_render (msgs, 3, NULL, 4, &len, NULL);
  ke_token *ids;
  size_t n;
  bool encoded = ke_tokenizer_encode (tok, text, len, &ids, &n, NULL);
  KE_REQUIRE (encoded, "encode");
  KE_CHECK (n == prompt.n_ids && memcmp (ids, prompt.ids, n * sizeof *ids) == 0, "same ids");
  free (ids);
  free (text);
  ke_prompt_clear (&prompt);
  KE_CHECK (prompt.ids == NULL && prompt.n_ids == 0, "cleared");

  /* a soft token typed as text makes the runs not match the images */
  ke_chat_part sneaky = { .kind = KE_PART_TEXT, .text = "<image_soft_token>", .text_len = 18 };
  ke_chat_message sneaky_msg = { KE_ROLE_USER, &sneaky, 1 };
  error = NULL;
  KE_CHECK (!ke_chat_build (tok, &sneaky_msg, 1, NULL, 1, &prompt, &error) && error,
            "typed image marker refused");
  ke_error_free (error);
  ke_tokenizer_free (tok);
}

KE_TAP_MAIN (KE_TAP_ENTRY (golden), KE_TAP_ENTRY (images_tools_and_errors))
