/* test-markdown.c — KestrelMarkdownView: every construct becomes the right widgets, and
 * streaming re-renders only the last block.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <gtksourceview/gtksource.h>

#include "kestrel-code-block.h"
#include "kestrel-markdown-tree.h"
#include "kestrel-markdown-view.h"
#include "ui-test-util.h"

static const char *all_constructs =
  "# Title\n"
  "\n"
  "## Section\n"
  "\n"
  "A paragraph with *emphasis*, **strong**, `inline code` and a [link](https://example.org/a?b=1&c=2).\n"
  "\n"
  "- first\n"
  "- second with `code`\n"
  "  1. nested one\n"
  "  2. nested two\n"
  "\n"
  "3. three\n"
  "4. four\n"
  "\n"
  "> quoted *text*\n"
  "\n"
  "| Name | Value |\n"
  "|:-----|------:|\n"
  "| a    | 1     |\n"
  "| b<c  | 2     |\n"
  "\n"
  "```python\n"
  "def f(x):\n"
  "    return x * 2\n"
  "```\n"
  "\n"
  "---\n"
  "\n"
  "Fin &amp; done.\n";

static GtkWidget *
nth_child (GtkWidget *widget,
           guint      n)
{
  GtkWidget *child = gtk_widget_get_first_child (widget);

  while (child != NULL && n-- > 0)
    child = gtk_widget_get_next_sibling (child);
  g_assert_nonnull (child);
  return child;
}

static guint
n_children (GtkWidget *widget)
{
  guint n = 0;

  for (GtkWidget *c = gtk_widget_get_first_child (widget); c; c = gtk_widget_get_next_sibling (c))
    n++;
  return n;
}

static gboolean
link_cb (KestrelMarkdownView *view,
         const char          *uri,
         char               **out)
{
  g_free (*out);
  *out = g_strdup (uri);
  return TRUE;  /* no launcher in tests */
}

static void
test_markdown_constructs (void)
{
  GtkWidget *view = g_object_ref_sink (kestrel_markdown_view_new ());
  g_autofree char *clicked = NULL;
  GtkWidget *block, *item_body;
  const char *markup;
  GtkWidget *table;
  KestrelCodeBlock *code;
  g_autofree char *code_text = NULL;
  gboolean handled = FALSE;

  kestrel_markdown_view_set_markdown (KESTREL_MARKDOWN_VIEW (view), all_constructs);
  /* h1, h2, p, ul, ol, quote, table, code, hr, p */
  g_assert_cmpuint (n_children (view), ==, 10);

  block = nth_child (view, 0);
  g_assert_true (GTK_IS_LABEL (block));
  g_assert_true (gtk_widget_has_css_class (block, "title-1"));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (block)), ==, "Title");
  g_assert_true (gtk_widget_has_css_class (nth_child (view, 1), "title-2"));

  /* inline spans become Pango markup */
  block = nth_child (view, 2);
  markup = gtk_label_get_label (GTK_LABEL (block));
  g_assert_nonnull (strstr (markup, "<i>emphasis</i>"));
  g_assert_nonnull (strstr (markup, "<b>strong</b>"));
  g_assert_nonnull (strstr (markup, "font_family=\"monospace\""));
  g_assert_nonnull (strstr (markup, "<a href=\"https://example.org/a?b=1&amp;c=2\">link</a>"));
  g_assert_true (gtk_label_get_use_markup (GTK_LABEL (block)));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (block)), ==,
                   "A paragraph with emphasis, strong, inline code and a link.");

  /* links are clickable: the label's activate-link reaches the view's signal */
  g_signal_connect (view, "activate-link", G_CALLBACK (link_cb), &clicked);
  g_signal_emit_by_name (block, "activate-link", "https://example.org/a?b=1&c=2", &handled);
  g_assert_true (handled);
  g_assert_cmpstr (clicked, ==, "https://example.org/a?b=1&c=2");

  /* bullet list with a nested ordered list */
  block = nth_child (view, 3);
  g_assert_true (gtk_widget_has_css_class (block, "markdown-list"));
  g_assert_cmpuint (n_children (block), ==, 2);
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (nth_child (nth_child (block, 0), 0))), ==, "•");
  item_body = nth_child (nth_child (block, 1), 1);
  g_assert_cmpuint (n_children (item_body), ==, 2);   /* text + nested list */
  g_assert_true (gtk_widget_has_css_class (nth_child (item_body, 1), "markdown-list"));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (nth_child (nth_child (nth_child (item_body, 1), 1), 0))),
                   ==, "2.");

  /* ordered list keeps its start number */
  block = nth_child (view, 4);
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (nth_child (nth_child (block, 0), 0))), ==, "3.");
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (nth_child (nth_child (block, 1), 0))), ==, "4.");

  block = nth_child (view, 5);
  g_assert_true (gtk_widget_has_css_class (block, "markdown-quote"));
  g_assert_nonnull (strstr (gtk_label_get_label (GTK_LABEL (nth_child (block, 0))), "<i>text</i>"));

  /* a table: 3 rows of 2 equal-width cells, header bold, alignment from the delimiter row */
  table = nth_child (view, 6);
  g_assert_true (gtk_widget_has_css_class (table, "markdown-table"));
  g_assert_cmpuint (n_children (table), ==, 3);
  for (guint r = 0; r < 3; r++)
    {
      g_assert_cmpuint (n_children (nth_child (table, r)), ==, 2);
      g_assert_true (gtk_box_get_homogeneous (GTK_BOX (nth_child (table, r))));
    }
  g_assert_true (gtk_widget_has_css_class (nth_child (nth_child (table, 0), 0), "heading"));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (nth_child (nth_child (table, 2), 0))), ==, "b<c");
  g_assert_cmpfloat (gtk_label_get_xalign (GTK_LABEL (nth_child (nth_child (table, 1), 1))), ==, 1.0);

  /* fenced code: a GtkSourceView with the fence's language */
  code = KESTREL_CODE_BLOCK (nth_child (view, 7));
  g_assert_true (KESTREL_IS_CODE_BLOCK (code));
  g_assert_cmpstr (kestrel_code_block_get_language (code), ==, "python");
  g_assert_cmpstr (kestrel_code_block_get_language_id (code), ==, "python3");
  g_assert_nonnull (find_descendant (GTK_WIDGET (code), GTK_SOURCE_TYPE_VIEW));
  code_text = kestrel_code_block_dup_code (code);
  g_assert_cmpstr (code_text, ==, "def f(x):\n    return x * 2");

  /* the copy button puts the code on the clipboard */
  {
    GtkWidget *copy = find_descendant (GTK_WIDGET (code), GTK_TYPE_BUTTON);
    GdkClipboard *clipboard = gtk_widget_get_clipboard (GTK_WIDGET (code));
    g_auto(GValue) value = G_VALUE_INIT;

    g_signal_emit_by_name (copy, "clicked");
    g_value_init (&value, G_TYPE_STRING);
    g_assert_true (gdk_content_provider_get_value (gdk_clipboard_get_content (clipboard), &value, NULL));
    g_assert_cmpstr (g_value_get_string (&value), ==, "def f(x):\n    return x * 2");
    g_assert_cmpstr (gtk_button_get_icon_name (GTK_BUTTON (copy)), ==, "object-select-symbolic");
  }

  g_assert_true (GTK_IS_SEPARATOR (nth_child (view, 8)));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (nth_child (view, 9))), ==, "Fin & done.");

  g_object_unref (view);
}

static void
test_markdown_streaming (void)
{
  KestrelMarkdownView *view = g_object_ref_sink (KESTREL_MARKDOWN_VIEW (kestrel_markdown_view_new ()));
  const char *tokens[] = { "int", " main", " (void)\n", "{\n", "  return", " 0;\n", "}\n" };
  g_autoptr(GString) text = g_string_new ("Some *intro* text.\n\nA second paragraph.\n\n```c\n");
  GtkWidget *first, *second, *code;
  guint before;

  kestrel_markdown_view_set_markdown (view, text->str);
  g_assert_cmpuint (kestrel_markdown_view_get_render_count (view), ==, 3);
  first = nth_child (GTK_WIDGET (view), 0);
  second = nth_child (GTK_WIDGET (view), 1);
  code = nth_child (GTK_WIDGET (view), 2);

  /* each appended token touches only the last block (updated in place for code) */
  for (guint i = 0; i < G_N_ELEMENTS (tokens); i++)
    {
      before = kestrel_markdown_view_get_render_count (view);
      g_string_append (text, tokens[i]);
      kestrel_markdown_view_set_markdown (view, text->str);
      g_assert_cmpuint (kestrel_markdown_view_get_render_count (view), ==, before + 1);
      g_assert_true (nth_child (GTK_WIDGET (view), 0) == first);
      g_assert_true (nth_child (GTK_WIDGET (view), 1) == second);
      g_assert_true (nth_child (GTK_WIDGET (view), 2) == code);
    }

  /* closing the fence changes nothing visible: no rebuild */
  before = kestrel_markdown_view_get_render_count (view);
  g_string_append (text, "```\n");
  kestrel_markdown_view_set_markdown (view, text->str);
  g_assert_cmpuint (kestrel_markdown_view_get_render_count (view), ==, before);

  /* a new paragraph adds one block; streaming into it rebuilds only it */
  g_string_append (text, "\nDone");
  kestrel_markdown_view_set_markdown (view, text->str);
  g_assert_cmpuint (kestrel_markdown_view_get_render_count (view), ==, before + 1);
  g_string_append (text, " now.");
  kestrel_markdown_view_set_markdown (view, text->str);
  g_assert_cmpuint (kestrel_markdown_view_get_render_count (view), ==, before + 2);
  g_assert_true (nth_child (GTK_WIDGET (view), 2) == code);
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (nth_child (GTK_WIDGET (view), 3))), ==, "Done now.");
  g_assert_cmpuint (n_children (GTK_WIDGET (view)), ==, 4);

  /* a rewrite of an early block rebuilds from there on, and shrinking drops blocks */
  kestrel_markdown_view_set_markdown (view, "Other text.");
  g_assert_cmpuint (n_children (GTK_WIDGET (view)), ==, 1);
  kestrel_markdown_view_set_markdown (view, "");
  g_assert_cmpuint (n_children (GTK_WIDGET (view)), ==, 0);

  g_object_unref (view);
}

/* A long reply streamed in small pieces: the cost per piece stays small, and the result is
 * the same as rendering the whole text at once. */
static void
test_markdown_long_stream (void)
{
  KestrelMarkdownView *streamed = g_object_ref_sink (KESTREL_MARKDOWN_VIEW (kestrel_markdown_view_new ()));
  KestrelMarkdownView *whole = g_object_ref_sink (KESTREL_MARKDOWN_VIEW (kestrel_markdown_view_new ()));
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GString) prefix = g_string_new (NULL);
  gint64 start, elapsed;
  guint n_pieces = 0;

  for (int i = 0; i < 40; i++)
    g_string_append_printf (text,
                            "## Part %d\n\nSome *text* with `code` and a [link](https://example.org/%d).\n\n"
                            "- item one\n- item two\n\n```c\nint part_%d (void)\n{\n  return %d;\n}\n```\n\n",
                            i, i, i, i);

  start = g_get_monotonic_time ();
  for (gsize at = 0; at < text->len; at += 4)
    {
      g_string_append_len (prefix, text->str + at, MIN (4, text->len - at));
      kestrel_markdown_view_set_markdown (streamed, prefix->str);
      n_pieces++;
    }
  elapsed = g_get_monotonic_time () - start;
  g_test_message ("streamed %zu bytes in %u pieces: %.1f ms, %.1f us per piece, %u block renders",
                  text->len, n_pieces, elapsed / 1000.0, (double) elapsed / n_pieces,
                  kestrel_markdown_view_get_render_count (streamed));

  kestrel_markdown_view_set_markdown (whole, text->str);
  g_assert_cmpuint (kestrel_markdown_view_get_render_count (whole), ==, 40 * 4);
  {
    guint n_streamed = 0, n_whole = 0;
    for (GtkWidget *c = gtk_widget_get_first_child (GTK_WIDGET (streamed)); c; c = gtk_widget_get_next_sibling (c))
      n_streamed++;
    for (GtkWidget *c = gtk_widget_get_first_child (GTK_WIDGET (whole)); c; c = gtk_widget_get_next_sibling (c))
      n_whole++;
    g_assert_cmpuint (n_streamed, ==, n_whole);
  }
  /* at most one block (the last) renders per piece */
  g_assert_cmpuint (kestrel_markdown_view_get_render_count (streamed), <=, n_pieces + 40 * 4);

  g_object_unref (streamed);
  g_object_unref (whole);
}

static void
test_markdown_hostile_input (void)
{
  KestrelMarkdownView *view = g_object_ref_sink (KESTREL_MARKDOWN_VIEW (kestrel_markdown_view_new ()));
  g_autoptr(GString) deep = g_string_new (NULL);

  /* markup injection stays text; invalid UTF-8 is replaced; deep nesting works */
  kestrel_markdown_view_set_markdown (view, "<span foreground=\"red\">x</span> & <b>y</b>");
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (gtk_widget_get_first_child (GTK_WIDGET (view)))),
                   ==, "<span foreground=\"red\">x</span> & <b>y</b>");
  kestrel_markdown_view_set_markdown (view, "bad \xff\xfe bytes [a](javascript:\"x\") &#0; &#99999999;");
  g_assert_nonnull (gtk_widget_get_first_child (GTK_WIDGET (view)));
  for (int i = 0; i < 200; i++)
    g_string_append (deep, "> ");
  g_string_append (deep, "deep");
  kestrel_markdown_view_set_markdown (view, deep->str);
  g_assert_nonnull (gtk_widget_get_first_child (GTK_WIDGET (view)));
  kestrel_markdown_view_set_markdown (view, "[a [nested](http://b) link](http://a) **unclosed");
  g_assert_nonnull (gtk_widget_get_first_child (GTK_WIDGET (view)));

  g_object_unref (view);
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add_func ("/kestrel/markdown/constructs", test_markdown_constructs);
  g_test_add_func ("/kestrel/markdown/streaming", test_markdown_streaming);
  g_test_add_func ("/kestrel/markdown/long-stream", test_markdown_long_stream);
  g_test_add_func ("/kestrel/markdown/hostile-input", test_markdown_hostile_input);

  return g_test_run ();
}
