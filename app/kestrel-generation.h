/* kestrel-generation.h — one streamed reply, as the main thread sees it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

#include "kestrel-engine-types.h"

G_BEGIN_DECLS

typedef enum
{
  KESTREL_GENERATION_PENDING,    /* queued behind other engine work */
  KESTREL_GENERATION_PREFILLING, /* reading the prompt */
  KESTREL_GENERATION_STREAMING,  /* tokens are arriving */
  KESTREL_GENERATION_COMPLETE,
  KESTREL_GENERATION_CANCELLED,
  KESTREL_GENERATION_FAILED,
} KestrelGenerationStatus;

#define KESTREL_TYPE_GENERATION (kestrel_generation_get_type ())

G_DECLARE_FINAL_TYPE (KestrelGeneration, kestrel_generation, KESTREL, GENERATION, GObject)

const char              *kestrel_generation_get_text             (KestrelGeneration *self);
const char              *kestrel_generation_get_conversation_id  (KestrelGeneration *self);
KestrelGenerationStatus  kestrel_generation_get_status           (KestrelGeneration *self);
guint                    kestrel_generation_get_n_tokens         (KestrelGeneration *self);
const GError            *kestrel_generation_get_error            (KestrelGeneration *self);
void                     kestrel_generation_get_stats            (KestrelGeneration *self,
                                                                  KestrelGenerationStats *stats);
gboolean                 kestrel_generation_is_finished          (KestrelGeneration *self);
/* Stops the reply within one token; "finished" follows with status CANCELLED. */
void                     kestrel_generation_cancel               (KestrelGeneration *self);

G_END_DECLS
