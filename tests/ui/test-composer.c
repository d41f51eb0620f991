/* test-composer.c — KestrelComposer and KestrelChatPage: keys, paste, drops, image safety.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Drops go through the page's real GtkDropTarget ("drop" with a GdkFileList, a GFile or a
 * GdkTexture value); paste through the text view's "paste-clipboard" with a texture on the
 * clipboard; keys through the composer's key controller.  The decoder's limits are in
 * test-image-loader.c.
 */
#include "config.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>

#include "kestrel-chat-page.h"
#include "kestrel-composer.h"
#include "kestrel-image-loader.h"
#include "ui-test-util.h"

typedef struct
{
  GtkWindow       *window;
  KestrelChatPage *page;
  KestrelComposer *composer;
  GtkTextView     *text_view;
  char            *tmpdir;
  guint            n_sent;
  char            *sent_text;
  GPtrArray       *sent_images;
  guint            n_cancel;
  GPtrArray       *errors;
} Fixture;

static void
send_cb (KestrelComposer *composer,
         const char      *text,
         GPtrArray       *images,
         Fixture         *f)
{
  f->n_sent++;
  g_free (f->sent_text);
  f->sent_text = g_strdup (text);
  g_clear_pointer (&f->sent_images, g_ptr_array_unref);
  f->sent_images = g_ptr_array_ref (images);
}

static void
cancel_cb (KestrelComposer *composer,
           Fixture         *f)
{
  f->n_cancel++;
}

static void
error_cb (KestrelComposer *composer,
          const char      *message,
          Fixture         *f)
{
  g_ptr_array_add (f->errors, g_strdup (message));
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  f->page = KESTREL_CHAT_PAGE (kestrel_chat_page_new ());
  f->composer = kestrel_chat_page_get_composer (f->page);
  f->text_view = find_descendant (GTK_WIDGET (f->composer), GTK_TYPE_TEXT_VIEW);
  f->errors = g_ptr_array_new_with_free_func (g_free);
  f->tmpdir = g_dir_make_tmp ("kestrel-composer-XXXXXX", NULL);
  g_signal_connect (f->composer, "send", G_CALLBACK (send_cb), f);
  g_signal_connect (f->composer, "cancel", G_CALLBACK (cancel_cb), f);
  g_signal_connect (f->composer, "attachment-error", G_CALLBACK (error_cb), f);
  f->window = present_in_window (GTK_WIDGET (f->page), 800, 600);
}

static void
remove_dir (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      g_unlink (child);
    }
  g_rmdir (path);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  gtk_window_destroy (f->window);
  iterate_for (50);
  remove_dir (f->tmpdir);
  g_free (f->tmpdir);
  g_free (f->sent_text);
  g_clear_pointer (&f->sent_images, g_ptr_array_unref);
  g_ptr_array_unref (f->errors);
}

static gboolean
press_key (Fixture         *f,
           guint            keyval,
           GdkModifierType  state)
{
  GtkEventController *keys = find_controller (GTK_WIDGET (f->text_view), "kestrel-composer-keys");
  gboolean handled = FALSE;

  g_assert_nonnull (keys);
  g_signal_emit_by_name (keys, "key-pressed", keyval, 0, state, &handled);
  return handled;
}

static char *
write_png (Fixture    *f,
           const char *name,
           int         width,
           int         height,
           gboolean    alpha)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, alpha, 8, width, height);
  char *path = g_build_filename (f->tmpdir, name, NULL);

  gdk_pixbuf_fill (pixbuf, 0x3366ccff);
  g_assert_true (gdk_pixbuf_save (pixbuf, path, "png", NULL, NULL));
  return path;
}

static gboolean
no_pending (gpointer data)
{
  return kestrel_composer_get_n_pending (data) == 0;
}

static void
wait_for_loads (Fixture *f)
{
  g_assert_true (iterate_until (no_pending, f->composer, 20));
}

static gboolean
drop_value (Fixture      *f,
            const GValue *value)
{
  GtkDropTarget *target = kestrel_chat_page_get_drop_target (f->page);
  gboolean accepted = FALSE;

  g_signal_emit_by_name (target, "drop", value, 20.0, 20.0, &accepted);
  return accepted;
}

static void
test_enter_sends (Fixture       *f,
                  gconstpointer  data)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (f->text_view);

  /* Enter on an empty composer sends nothing */
  g_assert_true (press_key (f, GDK_KEY_Return, 0));
  g_assert_cmpuint (f->n_sent, ==, 0);

  gtk_text_buffer_set_text (buffer, "Hello", -1);
  g_assert_true (press_key (f, GDK_KEY_Return, GDK_SHIFT_MASK));
  gtk_text_buffer_insert_at_cursor (buffer, "world", -1);
  g_assert_cmpuint (f->n_sent, ==, 0);
  {
    g_autofree char *text = kestrel_composer_dup_text (f->composer);
    g_assert_cmpstr (text, ==, "Hello\nworld");
  }

  g_assert_true (press_key (f, GDK_KEY_KP_Enter, 0));
  g_assert_cmpuint (f->n_sent, ==, 1);
  g_assert_cmpstr (f->sent_text, ==, "Hello\nworld");
  g_assert_cmpuint (f->sent_images->len, ==, 0);
  g_assert_cmpint (gtk_text_buffer_get_char_count (buffer), ==, 0);

  /* other keys go to the text view */
  g_assert_false (press_key (f, GDK_KEY_a, 0));
}

static void
test_cancel (Fixture       *f,
             gconstpointer  data)
{
  /* Escape does nothing while idle */
  g_assert_false (press_key (f, GDK_KEY_Escape, 0));
  g_assert_cmpuint (f->n_cancel, ==, 0);

  kestrel_composer_set_busy (f->composer, TRUE);
  /* while busy, Enter does not send */
  kestrel_composer_set_text (f->composer, "next question");
  g_assert_true (press_key (f, GDK_KEY_Return, 0));
  g_assert_cmpuint (f->n_sent, ==, 0);

  g_assert_true (press_key (f, GDK_KEY_Escape, 0));
  g_assert_cmpuint (f->n_cancel, ==, 1);

  {
    GtkStack *stack = find_descendant (GTK_WIDGET (f->composer), GTK_TYPE_STACK);
    GtkWidget *visible = gtk_stack_get_visible_child (stack);

    g_assert_cmpstr (gtk_button_get_icon_name (GTK_BUTTON (visible)), ==, "media-playback-stop-symbolic");
    g_signal_emit_by_name (visible, "clicked");
    g_assert_cmpuint (f->n_cancel, ==, 2);
  }

  kestrel_composer_set_busy (f->composer, FALSE);
  g_assert_true (press_key (f, GDK_KEY_Return, 0));
  g_assert_cmpuint (f->n_sent, ==, 1);
  g_assert_cmpstr (f->sent_text, ==, "next question");
}

static void
test_drop_file_list (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *png = write_png (f, "blue.png", 40, 30, FALSE);
  g_autofree char *text = g_build_filename (f->tmpdir, "notes.txt", NULL);
  g_autofree char *missing = g_build_filename (f->tmpdir, "missing.png", NULL);
  GFile *files[3];
  g_auto(GValue) value = G_VALUE_INIT;
  KestrelImage *image;

  g_assert_true (g_file_set_contents (text, "just some text, not an image\n", -1, NULL));
  files[0] = g_file_new_for_path (png);
  files[1] = g_file_new_for_path (text);
  files[2] = g_file_new_for_path (missing);

  g_value_init (&value, GDK_TYPE_FILE_LIST);
  g_value_take_boxed (&value, gdk_file_list_new_from_array (files, 3));
  g_assert_true (drop_value (f, &value));
  wait_for_loads (f);

  /* the image is attached; the text file and the missing file are refused with a message */
  g_assert_cmpuint (kestrel_composer_get_n_attachments (f->composer), ==, 1);
  g_assert_cmpuint (f->errors->len, ==, 2);
  for (guint i = 0; i < f->errors->len; i++)
    g_assert_true (strstr (g_ptr_array_index (f->errors, i), "notes.txt") != NULL ||
                   strstr (g_ptr_array_index (f->errors, i), "missing.png") != NULL);

  /* a single GFile works too */
  {
    g_auto(GValue) single = G_VALUE_INIT;

    g_value_init (&single, G_TYPE_FILE);
    g_value_set_object (&single, files[0]);
    g_assert_true (drop_value (f, &single));
    wait_for_loads (f);
    g_assert_cmpuint (kestrel_composer_get_n_attachments (f->composer), ==, 2);
  }

  /* the strip's remove button takes one off again; a third drop puts it back */
  {
    GtkWidget *remove = find_descendant_full (GTK_WIDGET (f->composer), GTK_TYPE_BUTTON, "remove-button");
    g_assert_nonnull (remove);
    g_signal_emit_by_name (remove, "clicked");
    g_assert_cmpuint (kestrel_composer_get_n_attachments (f->composer), ==, 1);
    g_assert_true (drop_value (f, &value));
    wait_for_loads (f);
    g_assert_cmpuint (kestrel_composer_get_n_attachments (f->composer), ==, 2);
    g_ptr_array_set_size (f->errors, 0);
  }

  /* sending hands over RGB pixels of the right size and clears the strip */
  g_assert_true (press_key (f, GDK_KEY_Return, 0));
  g_assert_cmpuint (f->n_sent, ==, 1);
  g_assert_cmpstr (f->sent_text, ==, "");
  g_assert_cmpuint (f->sent_images->len, ==, 2);
  image = g_ptr_array_index (f->sent_images, 0);
  g_assert_cmpuint (kestrel_image_get_width (image), ==, 40);
  g_assert_cmpuint (kestrel_image_get_height (image), ==, 30);
  g_assert_cmpuint (kestrel_image_get_channels (image), ==, 3);
  g_assert_cmpuint (((const guint8 *) g_bytes_get_data (kestrel_image_get_pixels (image), NULL))[2], ==, 0xcc);
  g_assert_cmpuint (kestrel_composer_get_n_attachments (f->composer), ==, 0);

  for (guint i = 0; i < 3; i++)
    g_object_unref (files[i]);
}

static GdkTexture *
make_texture (int width,
              int height)
{
  gsize size = (gsize) width * height * 4;
  guint8 *pixels = g_malloc (size);
  g_autoptr(GBytes) bytes = NULL;

  for (gsize i = 0; i < size; i += 4)
    {
      pixels[i] = 200; pixels[i + 1] = 100; pixels[i + 2] = 50; pixels[i + 3] = 255;
    }
  bytes = g_bytes_new_take (pixels, size);
  return gdk_memory_texture_new (width, height, GDK_MEMORY_R8G8B8A8, bytes, (gsize) width * 4);
}

static void
test_drop_texture (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GdkTexture) texture = make_texture (3000, 1500);
  g_auto(GValue) value = G_VALUE_INIT;
  g_auto(GValue) other = G_VALUE_INIT;
  KestrelImage *image;

  /* dragging over the page shows the drop highlight; leaving hides it */
  {
    GtkDropTarget *target = kestrel_chat_page_get_drop_target (f->page);
    GtkWidget *highlight = find_descendant_full (GTK_WIDGET (f->page), GTK_TYPE_BOX, "drop-highlight");
    GdkDragAction action = 0;

    g_assert_nonnull (highlight);
    g_assert_false (gtk_widget_get_visible (highlight));
    g_signal_emit_by_name (target, "enter", 10.0, 10.0, &action);
    g_assert_cmpint (action, ==, GDK_ACTION_COPY);
    g_assert_true (gtk_widget_get_visible (highlight));
    g_signal_emit_by_name (target, "leave");
    g_assert_false (gtk_widget_get_visible (highlight));
    g_signal_emit_by_name (target, "enter", 10.0, 10.0, &action);
  }

  g_value_init (&value, GDK_TYPE_TEXTURE);
  g_value_set_object (&value, texture);
  g_assert_true (drop_value (f, &value));
  g_assert_false (gtk_widget_get_visible (find_descendant_full (GTK_WIDGET (f->page), GTK_TYPE_BOX, "drop-highlight")));
  wait_for_loads (f);
  g_assert_cmpuint (kestrel_composer_get_n_attachments (f->composer), ==, 1);

  /* a value of another type is refused */
  g_value_init (&other, G_TYPE_STRING);
  g_value_set_string (&other, "text");
  g_assert_false (kestrel_composer_add_value (f->composer, &other));

  kestrel_composer_set_text (f->composer, "what is this?");
  g_assert_true (press_key (f, GDK_KEY_Return, 0));
  image = g_ptr_array_index (f->sent_images, 0);
  /* downscaled to 2048 on the long side */
  g_assert_cmpuint (kestrel_image_get_width (image), ==, 2048);
  g_assert_cmpuint (kestrel_image_get_height (image), ==, 1024);
  g_assert_cmpuint (kestrel_image_get_channels (image), ==, 4);
}

static gboolean
has_one_attachment (gpointer data)
{
  return kestrel_composer_get_n_attachments (data) == 1;
}

static gboolean
has_text (gpointer text_view)
{
  return gtk_text_buffer_get_char_count (gtk_text_view_get_buffer (text_view)) > 0;
}

static void
test_paste_texture (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GdkTexture) texture = make_texture (64, 48);
  GdkClipboard *clipboard = gtk_widget_get_clipboard (GTK_WIDGET (f->text_view));

  gdk_clipboard_set_texture (clipboard, texture);
  g_signal_emit_by_name (f->text_view, "paste-clipboard");
  g_assert_true (iterate_until (has_one_attachment, f->composer, 10));
  /* the image did not end up as text */
  {
    g_autofree char *text = kestrel_composer_dup_text (f->composer);
    g_assert_cmpstr (text, ==, "");
  }

  /* plain text still pastes as text */
  gdk_clipboard_set_text (clipboard, "pasted words");
  g_signal_emit_by_name (f->text_view, "paste-clipboard");
  g_assert_true (iterate_until (has_text, f->text_view, 10));
  {
    g_autofree char *text = kestrel_composer_dup_text (f->composer);
    g_assert_cmpstr (text, ==, "pasted words");
  }
  g_assert_cmpuint (kestrel_composer_get_n_attachments (f->composer), ==, 1);
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add ("/kestrel/composer/enter-sends", Fixture, NULL, fixture_set_up, test_enter_sends, fixture_tear_down);
  g_test_add ("/kestrel/composer/cancel", Fixture, NULL, fixture_set_up, test_cancel, fixture_tear_down);
  g_test_add ("/kestrel/composer/drop-file-list", Fixture, NULL, fixture_set_up, test_drop_file_list, fixture_tear_down);
  g_test_add ("/kestrel/composer/drop-texture", Fixture, NULL, fixture_set_up, test_drop_texture, fixture_tear_down);
  g_test_add ("/kestrel/composer/paste-texture", Fixture, NULL, fixture_set_up, test_paste_texture, fixture_tear_down);

  return g_test_run ();
}
