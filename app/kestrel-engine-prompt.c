/* kestrel-engine-prompt.c — conversation turns → the engine's chat prompt.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Runs on the engine thread.  Context overflow policy: when the conversation plus the
 * reply's room does not fit, the oldest turns after the system prompt are dropped — a user
 * turn together with the replies that follow it — until it fits; if the newest user turn
 * alone does not fit, the request fails with KESTREL_ENGINE_ERROR_CONTEXT_FULL and says how
 * many tokens it needs.
 */
#define G_LOG_DOMAIN "kestrel-engine"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "kestrel-engine.h"
#include "kestrel-engine-prompt.h"
#include "kestrel-engine-worker.h"

void
kestrel_prompt_build_clear (KestrelPromptBuild *pb)
{
  g_clear_pointer (&pb->messages, g_array_unref);
  g_clear_pointer (&pb->parts, g_array_unref);
  g_clear_pointer (&pb->images, g_array_unref);
}

static ke_role
role_to_ke (KestrelRole role)
{
  switch (role)
    {
    case KESTREL_ROLE_SYSTEM: return KE_ROLE_SYSTEM;
    case KESTREL_ROLE_MODEL: return KE_ROLE_MODEL;
    case KESTREL_ROLE_TOOL: return KE_ROLE_TOOL;
    case KESTREL_ROLE_USER:
    default: return KE_ROLE_USER;
    }
}

/* Turns [first_kept, n) plus a leading system turn (if any) become ke_chat_messages. */
static void
prompt_build_from_turns (KestrelPromptBuild *pb,
                         GPtrArray   *turns,
                         guint        first_kept)
{
  guint n_parts = 0, n_images = 0;

  kestrel_prompt_build_clear (pb);
  for (guint i = 0; i < turns->len; i++)
    {
      KestrelChatTurn *turn = g_ptr_array_index (turns, i);
      n_parts += 1 + kestrel_chat_turn_get_n_images (turn);
      n_images += kestrel_chat_turn_get_n_images (turn);
    }

  /* Sized up front: messages keep pointers into parts, parts into images. */
  pb->messages = g_array_sized_new (FALSE, TRUE, sizeof (ke_chat_message), turns->len);
  pb->parts = g_array_sized_new (FALSE, TRUE, sizeof (ke_chat_part), n_parts);
  pb->images = g_array_sized_new (FALSE, TRUE, sizeof (ke_image), n_images);

  for (guint i = 0; i < turns->len; i++)
    {
      KestrelChatTurn *turn = g_ptr_array_index (turns, i);
      KestrelRole role = kestrel_chat_turn_get_role (turn);
      const char *text = kestrel_chat_turn_get_text (turn);
      ke_chat_message msg = { 0 };
      ke_chat_part part = { 0 };

      if (role != KESTREL_ROLE_SYSTEM && i < first_kept)
        continue;

      msg.role = role_to_ke (role);
      msg.parts = &g_array_index (pb->parts, ke_chat_part, pb->parts->len);

      part.kind = KE_PART_TEXT;
      part.text = text;
      part.text_len = strlen (text);
      g_array_append_val (pb->parts, part);
      msg.n_parts = 1;

      for (guint j = 0; j < kestrel_chat_turn_get_n_images (turn); j++)
        {
          KestrelImage *image = kestrel_chat_turn_get_image (turn, j);
          ke_image ki = {
            .width = kestrel_image_get_width (image),
            .height = kestrel_image_get_height (image),
            .channels = kestrel_image_get_channels (image),
            .stride = kestrel_image_get_stride (image),
            .pixels = g_bytes_get_data (kestrel_image_get_pixels (image), NULL),
          };
          ke_chat_part ip = { .kind = KE_PART_IMAGE };

          g_array_append_val (pb->images, ki);
          ip.image = &g_array_index (pb->images, ke_image, pb->images->len - 1);
          g_array_append_val (pb->parts, ip);
          msg.n_parts++;
        }

      g_array_append_val (pb->messages, msg);
    }
}

/* Index of the turn that starts the next droppable block after `from`: the block is a
 * user turn and the non-user turns after it. */
static guint
next_block_start (GPtrArray *turns,
                  guint      from)
{
  guint i = from + 1;

  while (i < turns->len &&
         kestrel_chat_turn_get_role (g_ptr_array_index (turns, i)) != KESTREL_ROLE_USER)
    i++;
  return i;
}

/* Builds the prompt of `turns`, dropping the oldest turns until it fits (see the policy at
 * the top).  The prompt's images point into `pb`, which the caller clears after use. */
gboolean
kestrel_engine_build_prompt (ke_model             *model,
                      GPtrArray            *turns,
                      guint                 room,
                      guint                 context_length,
                      gboolean              pan_and_scan,
                      KestrelPromptBuild          *pb,
                      ke_prompt            *prompt,
                      guint                *dropped_turns,
                      GError              **error)
{
  const ke_model_info *info = ke_model_get_info (model);
  const ke_tokenizer *tokenizer = ke_model_get_tokenizer (model);
  ke_chat_options options;
  guint first_kept = 0;

  /* a leading system turn is always kept */
  while (first_kept < turns->len &&
         kestrel_chat_turn_get_role (g_ptr_array_index (turns, first_kept)) == KESTREL_ROLE_SYSTEM)
    first_kept++;

  ke_chat_options_init (&options);
  options.add_generation_prompt = TRUE;
  options.pan_and_scan = pan_and_scan;

  for (;;)
    {
      ke_error *ke_err = NULL;
      guint next;

      prompt_build_from_turns (pb, turns, first_kept);
      if (!ke_chat_build (tokenizer, (const ke_chat_message *) (void *) pb->messages->data,
                          pb->messages->len, &options, info->mm_tokens_per_image, prompt, &ke_err))
        {
          g_propagate_error (error, kestrel_engine_error_from_ke (ke_err));
          ke_error_free (ke_err);
          return FALSE;
        }

      if (prompt->n_ids + room <= context_length)
        break;

      next = next_block_start (turns, first_kept);
      if (next >= turns->len)
        {
          g_set_error (error, KESTREL_ENGINE_ERROR, KESTREL_ENGINE_ERROR_CONTEXT_FULL,
                       _("The message is too long: with room for the reply it needs %zu tokens, and the context holds %u"),
                       prompt->n_ids + room, context_length);
          ke_prompt_clear (prompt);
          return FALSE;
        }
      ke_prompt_clear (prompt);
      first_kept = next;
    }

  *dropped_turns = 0;
  for (guint i = 0; i < first_kept; i++)
    if (kestrel_chat_turn_get_role (g_ptr_array_index (turns, i)) != KESTREL_ROLE_SYSTEM)
      (*dropped_turns)++;

  return TRUE;
}

