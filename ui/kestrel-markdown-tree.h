/* kestrel-markdown-tree.h — Markdown parsed by md4c into a small block tree.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The view renders this tree into widgets.  Leaf blocks keep their inline content as Pango
 * markup (emphasis, code spans, links); code blocks keep their raw text and language.
 * Each top-level block has a signature so that the view can tell which blocks changed
 * after more text streamed in.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  KESTREL_MD_DOCUMENT,
  KESTREL_MD_PARAGRAPH,
  KESTREL_MD_HEADING,
  KESTREL_MD_QUOTE,
  KESTREL_MD_LIST,
  KESTREL_MD_LIST_ITEM,
  KESTREL_MD_CODE,
  KESTREL_MD_RULE,
  KESTREL_MD_TABLE,
  KESTREL_MD_TABLE_ROW,
  KESTREL_MD_TABLE_CELL,
} KestrelMdKind;

typedef struct _KestrelMdNode KestrelMdNode;

struct _KestrelMdNode
{
  KestrelMdKind   kind;
  KestrelMdNode  *parent;
  GPtrArray      *children;     /* of KestrelMdNode */
  GString        *content;      /* Pango markup (leaf blocks) or raw text (code) */
  char           *language;     /* code blocks: the fence's language, or NULL */
  guint           level;        /* headings: 1–6 */
  guint           start;        /* ordered lists: the first number */
  gboolean        ordered;      /* lists */
  gboolean        header;       /* table cells and rows of the head */
  int             align;        /* table cells: -1 left, 0 default, 1 centre, 2 right */
  char            task_mark;    /* list items: ' ', 'x' or 0 for none */
  gboolean        implicit;     /* a paragraph md4c did not open (tight list items) */
  int             span_depth;   /* leaf blocks: open links (Pango cannot nest <a>) */
};

/* Parses `text` (any UTF-8; invalid bytes are replaced).  Never fails: Markdown has no
 * syntax errors. */
KestrelMdNode *kestrel_md_parse          (const char    *text,
                                          gsize          length);
void           kestrel_md_node_free      (KestrelMdNode *node);
/* A string that is equal for two blocks exactly when they render the same. */
char          *kestrel_md_node_signature (KestrelMdNode *node);
/* The plain text of a leaf's markup (for tests and accessibility). */
char          *kestrel_md_node_get_text  (KestrelMdNode *node);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KestrelMdNode, kestrel_md_node_free)

G_END_DECLS
