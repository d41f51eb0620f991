/* kestrel-markdown-view.c — KestrelMdNode blocks as labels, lists, tables, code blocks.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The view keeps one widget per top-level block with the block's signature.  After a new
 * parse, blocks with the same signature keep their widgets; from the first changed block on,
 * widgets are replaced (a growing code block only gets its text replaced).  Links open with
 * GtkUriLauncher unless an "activate-link" handler returns TRUE.
 */
#define G_LOG_DOMAIN "kestrel-markdown"

#include "config.h"

#include <glib/gi18n.h>

#include "kestrel-code-block.h"
#include "kestrel-markdown-tree.h"
#include "kestrel-markdown-view.h"

typedef struct
{
  char      *signature;
  GtkWidget *widget;
} Block;

struct _KestrelMarkdownView
{
  GtkWidget  parent_instance;

  char      *markdown;
  GArray    *blocks;        /* of Block, in order */
  guint      render_count;
};

G_DEFINE_FINAL_TYPE (KestrelMarkdownView, kestrel_markdown_view, GTK_TYPE_WIDGET)

enum {
  ACTIVATE_LINK,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static GtkWidget *render_node (KestrelMarkdownView *self, KestrelMdNode *node);

static gboolean
label_activate_link_cb (GtkLabel            *label,
                        const char          *uri,
                        KestrelMarkdownView *self)
{
  gboolean handled = FALSE;

  g_signal_emit (self, signals[ACTIVATE_LINK], 0, uri, &handled);
  return TRUE;
}

static gboolean
kestrel_markdown_view_real_activate_link (KestrelMarkdownView *self,
                                          const char          *uri)
{
  g_autoptr(GtkUriLauncher) launcher = gtk_uri_launcher_new (uri);
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  gtk_uri_launcher_launch (launcher, GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                           NULL, NULL, NULL);
  return TRUE;
}

static GtkWidget *
text_label (KestrelMarkdownView *self,
            KestrelMdNode       *node)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_markup (GTK_LABEL (label), node->content->str);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_widget_set_halign (label, GTK_ALIGN_FILL);
  g_signal_connect_object (label, "activate-link", G_CALLBACK (label_activate_link_cb), self, 0);

  return label;
}

static GtkWidget *
block_box (GtkOrientation orientation,
           int            spacing,
           const char    *css_class)
{
  GtkWidget *box = gtk_box_new (orientation, spacing);

  if (css_class != NULL)
    gtk_widget_add_css_class (box, css_class);
  return box;
}

static void
append_children (KestrelMarkdownView *self,
                 GtkWidget           *box,
                 KestrelMdNode       *node)
{
  for (guint i = 0; i < node->children->len; i++)
    gtk_box_append (GTK_BOX (box), render_node (self, g_ptr_array_index (node->children, i)));
}

static GtkWidget *
render_list (KestrelMarkdownView *self,
             KestrelMdNode       *node)
{
  GtkWidget *list = block_box (GTK_ORIENTATION_VERTICAL, 6, "markdown-list");

  for (guint i = 0; i < node->children->len; i++)
    {
      KestrelMdNode *item = g_ptr_array_index (node->children, i);
      GtkWidget *row = block_box (GTK_ORIENTATION_HORIZONTAL, 8, NULL);
      GtkWidget *body = block_box (GTK_ORIENTATION_VERTICAL, 6, NULL);
      g_autofree char *mark = NULL;
      GtkWidget *bullet;

      if (item->task_mark != 0)
        mark = g_strdup (item->task_mark == 'x' ? "☑" : "☐");
      else if (node->ordered)
        mark = g_strdup_printf ("%u.", node->start + i);
      else
        mark = g_strdup ("•");

      bullet = gtk_label_new (mark);
      gtk_label_set_xalign (GTK_LABEL (bullet), 1);
      gtk_label_set_yalign (GTK_LABEL (bullet), 0);
      gtk_widget_set_valign (bullet, GTK_ALIGN_START);
      gtk_widget_set_size_request (bullet, 18, -1);
      gtk_widget_add_css_class (bullet, "dim-label");
      gtk_widget_set_hexpand (body, TRUE);
      append_children (self, body, item);
      gtk_box_append (GTK_BOX (row), bullet);
      gtk_box_append (GTK_BOX (row), body);
      gtk_box_append (GTK_BOX (list), row);
    }

  return list;
}

/* Rows of equal-width cells (boxes, not a GtkGrid: a grid of wrapping labels gets measured
 * below its minimum height inside the list).  No horizontal scroller either, since it would
 * catch the chat's wheel scrolling; cells wrap instead. */
static GtkWidget *
render_table (KestrelMarkdownView *self,
              KestrelMdNode       *node)
{
  GtkWidget *table = block_box (GTK_ORIENTATION_VERTICAL, 0, "markdown-table");

  gtk_widget_add_css_class (table, "card");
  gtk_widget_set_overflow (table, GTK_OVERFLOW_HIDDEN);
  gtk_widget_set_halign (table, GTK_ALIGN_START);
  gtk_accessible_update_property (GTK_ACCESSIBLE (table), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Table"), -1);

  for (guint r = 0; r < node->children->len; r++)
    {
      KestrelMdNode *row = g_ptr_array_index (node->children, r);
      GtkWidget *row_box = block_box (GTK_ORIENTATION_HORIZONTAL, 0, row->header ? "header" : NULL);

      gtk_box_set_homogeneous (GTK_BOX (row_box), TRUE);
      if (r % 2 == 0 && r > 0)
        gtk_widget_add_css_class (row_box, "even");

      for (guint c = 0; c < row->children->len; c++)
        {
          KestrelMdNode *cell = g_ptr_array_index (row->children, c);
          GtkWidget *label = text_label (self, cell);

          gtk_label_set_selectable (GTK_LABEL (label), FALSE);
          gtk_label_set_xalign (GTK_LABEL (label),
                                cell->align == 1 ? 0.5f : cell->align == 2 ? 1.0f : 0.0f);
          gtk_widget_add_css_class (label, cell->header ? "heading" : "cell");
          gtk_box_append (GTK_BOX (row_box), label);
        }

      gtk_box_append (GTK_BOX (table), row_box);
    }

  return table;
}

static GtkWidget *
render_node (KestrelMarkdownView *self,
             KestrelMdNode       *node)
{
  GtkWidget *widget = NULL;

  switch (node->kind)
    {
    case KESTREL_MD_PARAGRAPH:
      widget = text_label (self, node);
      break;
    case KESTREL_MD_HEADING:
      {
        static const char *classes[] = { "title-1", "title-2", "title-3", "title-4" };

        widget = text_label (self, node);
        gtk_widget_add_css_class (widget, classes[MIN (MAX (node->level, 1), 4) - 1]);
              gtk_accessible_update_property (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_PROPERTY_LEVEL,
                                        (int) node->level, -1);
      }
      break;
    case KESTREL_MD_QUOTE:
      widget = block_box (GTK_ORIENTATION_VERTICAL, 6, "markdown-quote");
      append_children (self, widget, node);
      break;
    case KESTREL_MD_LIST:
      widget = render_list (self, node);
      break;
    case KESTREL_MD_CODE:
      widget = kestrel_code_block_new (node->language, node->content->str);
      break;
    case KESTREL_MD_RULE:
      widget = gtk_separator_new (GTK_ORIENTATION_HORIZONTAL);
      break;
    case KESTREL_MD_TABLE:
      widget = render_table (self, node);
      break;
    case KESTREL_MD_DOCUMENT:
    case KESTREL_MD_LIST_ITEM:
    case KESTREL_MD_TABLE_ROW:
    case KESTREL_MD_TABLE_CELL:
    default:
      /* only reachable through a malformed tree; show its text rather than nothing */
      widget = block_box (GTK_ORIENTATION_VERTICAL, 6, NULL);
      append_children (self, widget, node);
      break;
    }

  return widget;
}

static void
block_clear (gpointer data)
{
  Block *block = data;

  g_clear_pointer (&block->signature, g_free);
  if (block->widget != NULL)
    gtk_widget_unparent (g_steal_pointer (&block->widget));
}

void
kestrel_markdown_view_set_markdown (KestrelMarkdownView *self,
                                    const char          *markdown)
{
  g_autoptr(KestrelMdNode) root = NULL;
  guint first_changed = 0;

  g_return_if_fail (KESTREL_IS_MARKDOWN_VIEW (self));

  if (markdown == NULL)
    markdown = "";
  if (g_strcmp0 (markdown, self->markdown) == 0)
    return;
  g_set_str (&self->markdown, markdown);

  root = kestrel_md_parse (markdown, strlen (markdown));

  /* keep the unchanged prefix of blocks */
  for (; first_changed < MIN (root->children->len, self->blocks->len); first_changed++)
    {
      g_autofree char *signature =
        kestrel_md_node_signature (g_ptr_array_index (root->children, first_changed));

      if (!g_str_equal (signature, g_array_index (self->blocks, Block, first_changed).signature))
        break;
    }

  for (guint i = first_changed; i < root->children->len; i++)
    {
      KestrelMdNode *node = g_ptr_array_index (root->children, i);
      Block *old = i < self->blocks->len ? &g_array_index (self->blocks, Block, i) : NULL;
      Block block = { kestrel_md_node_signature (node), NULL };

      self->render_count++;

      /* a code block that grows keeps its view and only gets the new text */
      if (old != NULL && node->kind == KESTREL_MD_CODE && KESTREL_IS_CODE_BLOCK (old->widget) &&
          g_strcmp0 (node->language,
                     kestrel_code_block_get_language (KESTREL_CODE_BLOCK (old->widget))) == 0)
        {
          kestrel_code_block_set_code (KESTREL_CODE_BLOCK (old->widget), node->content->str);
          g_set_str (&old->signature, block.signature);
          g_free (block.signature);
          continue;
        }

      block.widget = render_node (self, node);
      if (old != NULL)
        {
          gtk_widget_insert_before (block.widget, GTK_WIDGET (self), old->widget);
          block_clear (old);
          *old = block;
        }
      else
        {
          gtk_widget_insert_before (block.widget, GTK_WIDGET (self), NULL);
          g_array_append_val (self->blocks, block);
        }
    }

  if (self->blocks->len > root->children->len)
    g_array_remove_range (self->blocks, root->children->len,
                          self->blocks->len - root->children->len);
}

const char *
kestrel_markdown_view_get_markdown (KestrelMarkdownView *self)
{
  g_return_val_if_fail (KESTREL_IS_MARKDOWN_VIEW (self), NULL);
  return self->markdown ? self->markdown : "";
}

guint
kestrel_markdown_view_get_render_count (KestrelMarkdownView *self)
{
  g_return_val_if_fail (KESTREL_IS_MARKDOWN_VIEW (self), 0);
  return self->render_count;
}

GtkWidget *
kestrel_markdown_view_new (void)
{
  return g_object_new (KESTREL_TYPE_MARKDOWN_VIEW, NULL);
}

static void
kestrel_markdown_view_dispose (GObject *object)
{
  KestrelMarkdownView *self = KESTREL_MARKDOWN_VIEW (object);

  if (self->blocks != NULL)
    g_array_set_size (self->blocks, 0);

  G_OBJECT_CLASS (kestrel_markdown_view_parent_class)->dispose (object);
}

static void
kestrel_markdown_view_finalize (GObject *object)
{
  KestrelMarkdownView *self = KESTREL_MARKDOWN_VIEW (object);

  g_clear_pointer (&self->blocks, g_array_unref);
  g_free (self->markdown);

  G_OBJECT_CLASS (kestrel_markdown_view_parent_class)->finalize (object);
}

static void
kestrel_markdown_view_class_init (KestrelMarkdownViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = kestrel_markdown_view_dispose;
  object_class->finalize = kestrel_markdown_view_finalize;

  /**
   * KestrelMarkdownView::activate-link:
   * @uri: the link's target
   *
   * Emitted when a link is clicked; return TRUE to stop the default, which opens the URI
   * with GtkUriLauncher.
   */
  signals[ACTIVATE_LINK] =
    g_signal_new_class_handler ("activate-link", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                G_CALLBACK (kestrel_markdown_view_real_activate_link),
                                g_signal_accumulator_true_handled, NULL, NULL,
                                G_TYPE_BOOLEAN, 1, G_TYPE_STRING);

  gtk_widget_class_set_css_name (widget_class, "kestrel-markdown-view");
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BOX_LAYOUT);
}

static void
kestrel_markdown_view_init (KestrelMarkdownView *self)
{
  GtkLayoutManager *layout = gtk_widget_get_layout_manager (GTK_WIDGET (self));

  gtk_orientable_set_orientation (GTK_ORIENTABLE (layout), GTK_ORIENTATION_VERTICAL);
  gtk_box_layout_set_spacing (GTK_BOX_LAYOUT (layout), 12);

  self->blocks = g_array_new (FALSE, TRUE, sizeof (Block));
  g_array_set_clear_func (self->blocks, block_clear);
}
