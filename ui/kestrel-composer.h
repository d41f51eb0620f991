/* kestrel-composer.h — the message entry: text, attachments, send and stop.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Signals:
 *   "send" (const char *text, GPtrArray *images): Enter or the send button; images is a
 *     GPtrArray of KestrelImage (8-bit RGB(A), ≤ 2048 px on the long side).  The composer
 *     clears itself afterwards.
 *   "cancel": Escape or the stop button while busy.
 *   "attachment-error" (const char *message): a file or image was refused; the composer
 *     also shows it as a toast in the nearest AdwToastOverlay.
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define KESTREL_TYPE_COMPOSER (kestrel_composer_get_type ())

G_DECLARE_FINAL_TYPE (KestrelComposer, kestrel_composer, KESTREL, COMPOSER, GtkWidget)

GtkWidget *kestrel_composer_new                 (void);
/* While busy (a reply streams) the stop button replaces the send button. */
gboolean   kestrel_composer_get_busy            (KestrelComposer *self);
void       kestrel_composer_set_busy            (KestrelComposer *self,
                                                 gboolean         busy);
char      *kestrel_composer_dup_text            (KestrelComposer *self);
void       kestrel_composer_set_text            (KestrelComposer *self,
                                                 const char      *text);
/* Attach files or image data; each file is decoded off the main thread. */
void       kestrel_composer_add_file            (KestrelComposer *self,
                                                 GFile           *file);
void       kestrel_composer_add_texture         (KestrelComposer *self,
                                                 GdkTexture      *texture);
/* Takes a dropped or pasted value: a GdkFileList, a GFile or a GdkTexture. */
gboolean   kestrel_composer_add_value           (KestrelComposer *self,
                                                 const GValue    *value);
guint      kestrel_composer_get_n_attachments   (KestrelComposer *self);
/* How many attachments are still being decoded. */
guint      kestrel_composer_get_n_pending       (KestrelComposer *self);
void       kestrel_composer_grab_focus_text     (KestrelComposer *self);

G_END_DECLS
