/* kestrel-generation-private.h — the worker's side of a KestrelGeneration.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The engine thread never touches the GObject: it writes into KestrelGenerationFeed,
 * a small mutex-protected buffer shared with the object, and asks for a main-loop update.
 * Updates are coalesced: at most one is pending at any time, and they come no more often
 * than once per frame (16 ms), however fast tokens arrive.  The pending update holds only
 * a weak reference, so a reply nobody watches any more costs nothing on the main thread.
 */
#pragma once

#include "kestrel-generation.h"

G_BEGIN_DECLS

typedef struct _KestrelGenerationFeed KestrelGenerationFeed;

KestrelGeneration     *_kestrel_generation_new             (const char   *conversation_id,
                                                            GMainContext *context);
KestrelGenerationFeed *_kestrel_generation_get_feed        (KestrelGeneration *self);

/* Worker thread side (any thread): */
KestrelGenerationFeed *_kestrel_generation_feed_ref        (KestrelGenerationFeed *feed);
void                   _kestrel_generation_feed_unref      (KestrelGenerationFeed *feed);
gboolean               _kestrel_generation_feed_is_cancelled (KestrelGenerationFeed *feed);
void                   _kestrel_generation_feed_set_status (KestrelGenerationFeed  *feed,
                                                            KestrelGenerationStatus status);
void                   _kestrel_generation_feed_append     (KestrelGenerationFeed *feed,
                                                            const char            *text,
                                                            gsize                  len,
                                                            guint                  n_tokens);
/* Takes ownership of error (may be NULL); stats may be NULL. Ends the feed. */
void                   _kestrel_generation_feed_finish     (KestrelGenerationFeed        *feed,
                                                            KestrelGenerationStatus       status,
                                                            const KestrelGenerationStats *stats,
                                                            GError                       *error);
/* For tests: how many main-loop updates were delivered, and how many tokens the worker
 * produced in all / before kestrel_generation_cancel() was called. */
guint                  _kestrel_generation_get_n_updates   (KestrelGeneration *self);
guint                  _kestrel_generation_get_n_produced  (KestrelGeneration *self);
guint                  _kestrel_generation_get_n_produced_at_cancel (KestrelGeneration *self);

G_END_DECLS
