/* kestrel-code-block.h — a fenced code block: highlighted source and a copy button.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define KESTREL_TYPE_CODE_BLOCK (kestrel_code_block_get_type ())

G_DECLARE_FINAL_TYPE (KestrelCodeBlock, kestrel_code_block, KESTREL, CODE_BLOCK, GtkWidget)

GtkWidget  *kestrel_code_block_new          (const char       *language,
                                             const char       *code);
/* Replaces the code (a streamed block grows); keeps the widgets. */
void        kestrel_code_block_set_code     (KestrelCodeBlock *self,
                                             const char       *code);
const char *kestrel_code_block_get_language (KestrelCodeBlock *self);
/* The GtkSourceLanguage id in use, or NULL when the language is unknown. */
const char *kestrel_code_block_get_language_id (KestrelCodeBlock *self);
char       *kestrel_code_block_dup_code     (KestrelCodeBlock *self);

G_END_DECLS
