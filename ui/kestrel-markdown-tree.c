/* kestrel-markdown-tree.c — md4c callbacks that build a KestrelMdNode tree.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-markdown"

#include "config.h"

#include <md4c.h>
#include <pango/pango.h>

#include "kestrel-markdown-tree.h"

typedef struct
{
  KestrelMdNode *root;
  KestrelMdNode *current;
} ParseState;

static KestrelMdNode *
node_new (KestrelMdKind  kind,
          KestrelMdNode *parent)
{
  KestrelMdNode *node = g_new0 (KestrelMdNode, 1);

  node->kind = kind;
  node->parent = parent;
  node->children = g_ptr_array_new_with_free_func ((GDestroyNotify) kestrel_md_node_free);
  node->content = g_string_new (NULL);
  if (parent != NULL)
    g_ptr_array_add (parent->children, node);

  return node;
}

void
kestrel_md_node_free (KestrelMdNode *node)
{
  if (node == NULL)
    return;

  g_ptr_array_unref (node->children);
  g_string_free (node->content, TRUE);
  g_free (node->language);
  g_free (node);
}

static gboolean
holds_inline (KestrelMdKind kind)
{
  return kind == KESTREL_MD_PARAGRAPH || kind == KESTREL_MD_HEADING ||
         kind == KESTREL_MD_TABLE_CELL || kind == KESTREL_MD_CODE;
}

/* The block that receives inline content: the current leaf, or an implicit paragraph in a
 * container (md4c puts the text of tight list items straight into the item). */
static KestrelMdNode *
inline_target (ParseState *state)
{
  KestrelMdNode *node = state->current;
  KestrelMdNode *last;

  if (holds_inline (node->kind))
    return node;

  last = node->children->len > 0 ? g_ptr_array_index (node->children, node->children->len - 1) : NULL;
  if (last != NULL && last->implicit)
    return last;

  last = node_new (KESTREL_MD_PARAGRAPH, node);
  last->implicit = TRUE;
  return last;
}

static char *
attribute_dup (const MD_ATTRIBUTE *attr)
{
  if (attr->text == NULL || attr->size == 0)
    return NULL;
  return g_strndup (attr->text, attr->size);
}

static int
enter_block_cb (MD_BLOCKTYPE  type,
                void         *detail,
                void         *user_data)
{
  ParseState *state = user_data;
  KestrelMdNode *parent = state->current;
  KestrelMdNode *node = NULL;

  switch (type)
    {
    case MD_BLOCK_DOC:
      return 0;
    case MD_BLOCK_THEAD:
    case MD_BLOCK_TBODY:
      /* rows carry the header flag instead */
      parent->header = (type == MD_BLOCK_THEAD);
      return 0;
    case MD_BLOCK_QUOTE: node = node_new (KESTREL_MD_QUOTE, parent); break;
    case MD_BLOCK_UL: node = node_new (KESTREL_MD_LIST, parent); break;
    case MD_BLOCK_OL:
      node = node_new (KESTREL_MD_LIST, parent);
      node->ordered = TRUE;
      node->start = ((MD_BLOCK_OL_DETAIL *) detail)->start;
      break;
    case MD_BLOCK_LI:
      node = node_new (KESTREL_MD_LIST_ITEM, parent);
      if (((MD_BLOCK_LI_DETAIL *) detail)->is_task)
        node->task_mark = ((MD_BLOCK_LI_DETAIL *) detail)->task_mark == ' ' ? ' ' : 'x';
      break;
    case MD_BLOCK_HR: node = node_new (KESTREL_MD_RULE, parent); break;
    case MD_BLOCK_H:
      node = node_new (KESTREL_MD_HEADING, parent);
      node->level = ((MD_BLOCK_H_DETAIL *) detail)->level;
      break;
    case MD_BLOCK_CODE:
      node = node_new (KESTREL_MD_CODE, parent);
      node->language = attribute_dup (&((MD_BLOCK_CODE_DETAIL *) detail)->lang);
      break;
    case MD_BLOCK_HTML:
    case MD_BLOCK_P: node = node_new (KESTREL_MD_PARAGRAPH, parent); break;
    case MD_BLOCK_TABLE: node = node_new (KESTREL_MD_TABLE, parent); break;
    case MD_BLOCK_TR:
      node = node_new (KESTREL_MD_TABLE_ROW, parent);
      node->header = parent->header;
      break;
    case MD_BLOCK_TH:
    case MD_BLOCK_TD:
      node = node_new (KESTREL_MD_TABLE_CELL, parent);
      node->header = (type == MD_BLOCK_TH);
      switch (((MD_BLOCK_TD_DETAIL *) detail)->align)
        {
        case MD_ALIGN_LEFT: node->align = -1; break;
        case MD_ALIGN_CENTER: node->align = 1; break;
        case MD_ALIGN_RIGHT: node->align = 2; break;
        case MD_ALIGN_DEFAULT:
        default: node->align = 0; break;
        }
      break;
    default:
      return 0;
    }

  state->current = node;
  return 0;
}

static int
leave_block_cb (MD_BLOCKTYPE  type,
                void         *detail,
                void         *user_data)
{
  ParseState *state = user_data;

  if (type == MD_BLOCK_DOC || type == MD_BLOCK_THEAD || type == MD_BLOCK_TBODY)
    return 0;

  if (state->current->parent != NULL)
    state->current = state->current->parent;
  return 0;
}

static int
span_cb (MD_SPANTYPE  type,
         void        *detail,
         gboolean     enter,
         ParseState  *state)
{
  KestrelMdNode *leaf = inline_target (state);
  GString *out = leaf->content;

  switch (type)
    {
    case MD_SPAN_EM: g_string_append (out, enter ? "<i>" : "</i>"); break;
    case MD_SPAN_STRONG: g_string_append (out, enter ? "<b>" : "</b>"); break;
    case MD_SPAN_DEL: g_string_append (out, enter ? "<s>" : "</s>"); break;
    case MD_SPAN_U: g_string_append (out, enter ? "<u>" : "</u>"); break;
    case MD_SPAN_CODE:
    case MD_SPAN_LATEXMATH:
    case MD_SPAN_LATEXMATH_DISPLAY:
      g_string_append (out, enter ? "<span font_family=\"monospace\" background=\"#8080802e\">"
                                  : "</span>");
      break;
    case MD_SPAN_A:
      /* Pango links do not nest; an inner link (rare) shows as text of the outer one */
      if (enter && leaf->span_depth++ == 0)
        {
          g_autofree char *href = attribute_dup (&((MD_SPAN_A_DETAIL *) detail)->href);
          g_autofree char *escaped = g_markup_escape_text (href ? href : "", -1);

          g_string_append_printf (out, "<a href=\"%s\">", escaped);
        }
      else if (!enter && --leaf->span_depth == 0)
        g_string_append (out, "</a>");
      break;
    case MD_SPAN_IMG:
      /* images in replies are not fetched: the alt text stands in, marked as such */
      g_string_append (out, enter ? "<i>[" : "]</i>");
      break;
    case MD_SPAN_WIKILINK:
    default:
      break;
    }

  return 0;
}

static int
enter_span_cb (MD_SPANTYPE type, void *detail, void *user_data)
{
  return span_cb (type, detail, TRUE, user_data);
}

static int
leave_span_cb (MD_SPANTYPE type, void *detail, void *user_data)
{
  return span_cb (type, detail, FALSE, user_data);
}

static void
append_entity (GString    *out,
               const char *entity,
               gsize       size)
{
  g_autofree char *name = g_strndup (entity, size);
  gunichar c = 0;

  if (size > 3 && name[1] == '#')
    {
      gboolean hex = (name[2] == 'x' || name[2] == 'X');
      c = (gunichar) g_ascii_strtoull (name + (hex ? 3 : 2), NULL, hex ? 16 : 10);
    }
  else if (g_str_equal (name, "&amp;")) c = '&';
  else if (g_str_equal (name, "&lt;")) c = '<';
  else if (g_str_equal (name, "&gt;")) c = '>';
  else if (g_str_equal (name, "&quot;")) c = '"';
  else if (g_str_equal (name, "&apos;")) c = '\'';
  else if (g_str_equal (name, "&nbsp;")) c = 0xA0;
  else if (g_str_equal (name, "&copy;")) c = 0xA9;
  else if (g_str_equal (name, "&mdash;")) c = 0x2014;
  else if (g_str_equal (name, "&ndash;")) c = 0x2013;
  else if (g_str_equal (name, "&hellip;")) c = 0x2026;

  if (c != 0 && g_unichar_validate (c))
    {
      char utf8[8];
      g_autofree char *escaped = g_markup_escape_text (utf8, g_unichar_to_utf8 (c, utf8));
      g_string_append (out, escaped);
    }
  else
    {
      g_autofree char *escaped = g_markup_escape_text (name, -1);
      g_string_append (out, escaped);
    }
}

static int
text_cb (MD_TEXTTYPE  type,
         const char  *text,
         MD_SIZE      size,
         void        *user_data)
{
  ParseState *state = user_data;
  KestrelMdNode *leaf = inline_target (state);
  GString *out = leaf->content;

  if (leaf->kind == KESTREL_MD_CODE)
    {
      g_string_append_len (out, text, size);
      return 0;
    }

  switch (type)
    {
    case MD_TEXT_NULLCHAR: g_string_append (out, "\xEF\xBF\xBD"); break;
    case MD_TEXT_BR: g_string_append_c (out, '\n'); break;
    case MD_TEXT_SOFTBR: g_string_append_c (out, ' '); break;
    case MD_TEXT_ENTITY: append_entity (out, text, size); break;
    case MD_TEXT_NORMAL:
    case MD_TEXT_CODE:
    case MD_TEXT_HTML:
    case MD_TEXT_LATEXMATH:
    default:
      {
        g_autofree char *escaped = g_markup_escape_text (text, size);
        g_string_append (out, escaped);
      }
      break;
    }

  return 0;
}

KestrelMdNode *
kestrel_md_parse (const char *text,
                  gsize       length)
{
  g_autofree char *valid = g_utf8_make_valid (text ? text : "", text ? (gssize) length : 0);
  ParseState state = { NULL, NULL };
  MD_PARSER parser = {
    .abi_version = 0,
    .flags = MD_DIALECT_GITHUB | MD_FLAG_NOHTML,
    .enter_block = enter_block_cb,
    .leave_block = leave_block_cb,
    .enter_span = enter_span_cb,
    .leave_span = leave_span_cb,
    .text = text_cb,
  };

  state.root = state.current = node_new (KESTREL_MD_DOCUMENT, NULL);
  if (md_parse (valid, (MD_SIZE) MIN (strlen (valid), G_MAXUINT32), &parser, &state) != 0)
    g_debug ("md4c stopped early; showing what it parsed");

  return state.root;
}

static void
append_signature (GString       *out,
                  KestrelMdNode *node)
{
  g_string_append_printf (out, "(%d %u %u %d %d %d %d %s|%s|",
                          node->kind, node->level, node->start, node->ordered,
                          node->header, node->align, node->task_mark,
                          node->language ? node->language : "", node->content->str);
  for (guint i = 0; i < node->children->len; i++)
    append_signature (out, g_ptr_array_index (node->children, i));
  g_string_append_c (out, ')');
}

char *
kestrel_md_node_signature (KestrelMdNode *node)
{
  GString *out = g_string_new (NULL);

  append_signature (out, node);
  return g_string_free (out, FALSE);
}

char *
kestrel_md_node_get_text (KestrelMdNode *node)
{
  char *text = NULL;

  if (node->kind == KESTREL_MD_CODE)
    return g_strdup (node->content->str);
  if (!pango_parse_markup (node->content->str, -1, 0, NULL, &text, NULL, NULL))
    return g_strdup (node->content->str);
  return text;
}
