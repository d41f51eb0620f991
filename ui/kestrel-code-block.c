/* kestrel-code-block.c — GtkSourceView with the fence's language and the app's style.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "kestrel-code-block"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>
#include <gtksourceview/gtksource.h>

#include "kestrel-code-block.h"

struct _KestrelCodeBlock
{
  GtkWidget        parent_instance;

  GtkLabel        *language_label;
  GtkButton       *copy_button;
  GtkSourceView   *source_view;
  GtkSourceBuffer *buffer;
  char            *language;
  guint            copied_reset_id;
};

G_DEFINE_FINAL_TYPE (KestrelCodeBlock, kestrel_code_block, GTK_TYPE_WIDGET)

/* Fence names models write that are not GtkSourceView ids or file suffixes. */
static const struct { const char *name; const char *id; } language_aliases[] = {
  { "bash", "sh" }, { "shell", "sh" }, { "zsh", "sh" }, { "console", "sh" },
  { "py", "python3" }, { "python", "python3" }, { "js", "js" }, { "javascript", "js" },
  { "ts", "typescript" }, { "c++", "cpp" }, { "cxx", "cpp" }, { "h", "c" },
  { "rs", "rust" }, { "yml", "yaml" }, { "md", "markdown" }, { "golang", "go" },
  { "cs", "c-sharp" }, { "csharp", "c-sharp" }, { "html", "html" }, { "cuda", "cuda" },
};

static GtkSourceLanguage *
find_language (const char *name)
{
  GtkSourceLanguageManager *manager = gtk_source_language_manager_get_default ();
  g_autofree char *lower = NULL;
  g_autofree char *filename = NULL;
  GtkSourceLanguage *language;

  if (name == NULL || name[0] == '\0')
    return NULL;

  lower = g_ascii_strdown (name, -1);
  for (guint i = 0; i < G_N_ELEMENTS (language_aliases); i++)
    if (g_str_equal (lower, language_aliases[i].name))
      {
        language = gtk_source_language_manager_get_language (manager, language_aliases[i].id);
        if (language != NULL)
          return language;
      }

  language = gtk_source_language_manager_get_language (manager, lower);
  if (language != NULL)
    return language;

  /* "rb", "java", "toml"…: a file name with the fence name as its suffix */
  filename = g_strconcat ("code.", lower, NULL);
  return gtk_source_language_manager_guess_language (manager, filename, NULL);
}

static void
update_style_scheme (KestrelCodeBlock *self)
{
  AdwStyleManager *style = adw_style_manager_get_default ();
  GtkSourceStyleSchemeManager *schemes = gtk_source_style_scheme_manager_get_default ();
  const char *id = adw_style_manager_get_dark (style) ? "Adwaita-dark" : "Adwaita";

  gtk_source_buffer_set_style_scheme (self->buffer,
                                      gtk_source_style_scheme_manager_get_scheme (schemes, id));
}

static void
dark_changed_cb (KestrelCodeBlock *self)
{
  update_style_scheme (self);
}

static gboolean
reset_copy_button_cb (gpointer user_data)
{
  KestrelCodeBlock *self = user_data;

  self->copied_reset_id = 0;
  gtk_button_set_icon_name (self->copy_button, "edit-copy-symbolic");
  return G_SOURCE_REMOVE;
}

static void
copy_clicked_cb (KestrelCodeBlock *self)
{
  g_autofree char *code = kestrel_code_block_dup_code (self);

  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), code);

  /* a check mark for a moment says that it worked */
  gtk_button_set_icon_name (self->copy_button, "object-select-symbolic");
  g_clear_handle_id (&self->copied_reset_id, g_source_remove);
  self->copied_reset_id = g_timeout_add_seconds (2, reset_copy_button_cb, self);
}

GtkWidget *
kestrel_code_block_new (const char *language,
                        const char *code)
{
  KestrelCodeBlock *self = g_object_new (KESTREL_TYPE_CODE_BLOCK, NULL);
  GtkSourceLanguage *source_language = find_language (language);

  self->language = g_strdup (language);
  gtk_source_buffer_set_language (self->buffer, source_language);
  if (source_language != NULL)
    gtk_label_set_label (self->language_label, gtk_source_language_get_name (source_language));
  else if (language != NULL && language[0] != '\0')
    gtk_label_set_label (self->language_label, language);
  else
    gtk_label_set_label (self->language_label, _("Code"));

  kestrel_code_block_set_code (self, code);

  return GTK_WIDGET (self);
}

void
kestrel_code_block_set_code (KestrelCodeBlock *self,
                             const char       *code)
{
  g_autofree char *trimmed = NULL;
  gsize len;

  g_return_if_fail (KESTREL_IS_CODE_BLOCK (self));

  /* md4c ends every code line with a newline; the last one would show as an empty line */
  trimmed = g_strdup (code ? code : "");
  len = strlen (trimmed);
  if (len > 0 && trimmed[len - 1] == '\n')
    trimmed[len - 1] = '\0';

  gtk_text_buffer_set_text (GTK_TEXT_BUFFER (self->buffer), trimmed, -1);
}

const char *
kestrel_code_block_get_language (KestrelCodeBlock *self)
{
  g_return_val_if_fail (KESTREL_IS_CODE_BLOCK (self), NULL);
  return self->language;
}

const char *
kestrel_code_block_get_language_id (KestrelCodeBlock *self)
{
  GtkSourceLanguage *language;

  g_return_val_if_fail (KESTREL_IS_CODE_BLOCK (self), NULL);

  language = gtk_source_buffer_get_language (self->buffer);
  return language ? gtk_source_language_get_id (language) : NULL;
}

char *
kestrel_code_block_dup_code (KestrelCodeBlock *self)
{
  GtkTextIter start, end;

  g_return_val_if_fail (KESTREL_IS_CODE_BLOCK (self), NULL);

  gtk_text_buffer_get_bounds (GTK_TEXT_BUFFER (self->buffer), &start, &end);
  return gtk_text_buffer_get_text (GTK_TEXT_BUFFER (self->buffer), &start, &end, FALSE);
}

static void
kestrel_code_block_dispose (GObject *object)
{
  KestrelCodeBlock *self = KESTREL_CODE_BLOCK (object);

  g_clear_handle_id (&self->copied_reset_id, g_source_remove);
  gtk_widget_dispose_template (GTK_WIDGET (self), KESTREL_TYPE_CODE_BLOCK);
  /* the template's unbound top-level child */
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL;)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (kestrel_code_block_parent_class)->dispose (object);
}

static void
kestrel_code_block_finalize (GObject *object)
{
  KestrelCodeBlock *self = KESTREL_CODE_BLOCK (object);

  g_free (self->language);

  G_OBJECT_CLASS (kestrel_code_block_parent_class)->finalize (object);
}

static void
kestrel_code_block_class_init (KestrelCodeBlockClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  gtk_source_init ();

  object_class->dispose = kestrel_code_block_dispose;
  object_class->finalize = kestrel_code_block_finalize;

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/kestrelchat/Kestrel/kestrel-code-block.ui");
  gtk_widget_class_bind_template_child (widget_class, KestrelCodeBlock, language_label);
  gtk_widget_class_bind_template_child (widget_class, KestrelCodeBlock, copy_button);
  gtk_widget_class_bind_template_child (widget_class, KestrelCodeBlock, source_view);
  gtk_widget_class_bind_template_callback (widget_class, copy_clicked_cb);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "kestrel-code-block");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
}

static void
kestrel_code_block_init (KestrelCodeBlock *self)
{
  g_type_ensure (GTK_SOURCE_TYPE_VIEW);
  gtk_widget_init_template (GTK_WIDGET (self));

  self->buffer = GTK_SOURCE_BUFFER (gtk_text_view_get_buffer (GTK_TEXT_VIEW (self->source_view)));
  gtk_source_buffer_set_highlight_matching_brackets (self->buffer, FALSE);
  update_style_scheme (self);
  g_signal_connect_object (adw_style_manager_get_default (), "notify::dark",
                           G_CALLBACK (dark_changed_cb), self, G_CONNECT_SWAPPED);
}
