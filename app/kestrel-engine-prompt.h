/* kestrel-engine-prompt.h — conversation turns → the engine's chat prompt (worker thread).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

#include "ke-engine.h"

G_BEGIN_DECLS

/* The ke_chat_messages of some turns, with the parts and images they point into. */
typedef struct
{
  GArray *messages;   /* ke_chat_message */
  GArray *parts;      /* ke_chat_part; messages point into it */
  GArray *images;     /* ke_image; parts point into it */
} KestrelPromptBuild;

void     kestrel_prompt_build_clear  (KestrelPromptBuild *pb);

/* Builds the prompt of `turns` (KestrelChatTurn) with room for `room` more tokens inside
 * `context_length`, dropping the oldest turns after the system prompt until it fits.  The
 * prompt's images point into `pb`: clear both after use. */
gboolean kestrel_engine_build_prompt (ke_model            *model,
                                      GPtrArray           *turns,
                                      guint                room,
                                      guint                context_length,
                                      gboolean             pan_and_scan,
                                      KestrelPromptBuild  *pb,
                                      ke_prompt           *prompt,
                                      guint               *dropped_turns,
                                      GError             **error);

G_END_DECLS
