/* kestrel-markdown-view.h — a model reply rendered from Markdown.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define KESTREL_TYPE_MARKDOWN_VIEW (kestrel_markdown_view_get_type ())

G_DECLARE_FINAL_TYPE (KestrelMarkdownView, kestrel_markdown_view, KESTREL, MARKDOWN_VIEW, GtkWidget)

GtkWidget  *kestrel_markdown_view_new              (void);
/* Renders `markdown`.  Top-level blocks that did not change keep their widgets, so
 * streaming (text appended at the end) rebuilds only the last block. */
void        kestrel_markdown_view_set_markdown     (KestrelMarkdownView *self,
                                                    const char          *markdown);
const char *kestrel_markdown_view_get_markdown     (KestrelMarkdownView *self);
/* How many top-level block widgets were built (or updated in place) so far. */
guint       kestrel_markdown_view_get_render_count (KestrelMarkdownView *self);

G_END_DECLS
