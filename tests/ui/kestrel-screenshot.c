/* kestrel-screenshot.c — renders the main window to PNG files for docs/screenshots.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Usage: kestrel-screenshot OUTPUT-DIR   (run under run-headless.sh, which starts Xvfb)
 *
 * The conversation shown is a DEMO built here from fixed text and a drawn picture; no model
 * runs, and the demo shows no speed statistics because none were measured.  The sidebar lists
 * demo conversations too, imported into an in-memory store with chosen times, and the tool
 * calls of tool-calls.png and tool-call-states.png are demo states set by hand (no tool
 * ran).  Each scene is
 * rendered through the window's own GSK renderer (GtkSnapshot → render node → texture).
 *
 * The download scenes are a real download from the Hub look-alike of the downloader's
 * tests (tests/app/download/test-hub-server.c, on 127.0.0.1 in this process), which is why
 * they show its repository names ("kestrel-test/…") and its tiny checkpoint's sizes.
 */
#include "config.h"

#include <glib/gi18n.h>

#include <glib/gstdio.h>

#include "kestrel-application.h"
#include "kestrel-chat-message.h"
#include "kestrel-download-page.h"
#include "kestrel-memory-token-store.h"
#include "kestrel-model-library-page.h"
#include "kestrel-window.h"
#include "test-hub-server.h"

static const char *output_dir;
static char *tmp_root;

static const char *demo_question =
  "What is in this picture? And could you write a Python function that scales it to fit "
  "896 × 896 pixels?";

static const char *demo_reply =
  "It is a drawing of a **sunset over mountains**: an orange sun low above two dark ridges, "
  "under a sky that fades from purple to gold.\n"
  "\n"
  "Here is a function that scales an image to *fit* inside 896 × 896 while keeping its "
  "aspect ratio, using [Pillow](https://python-pillow.org):\n"
  "\n"
  "```python\n"
  "from PIL import Image\n"
  "\n"
  "def fit_to_square(path: str, size: int = 896) -> Image.Image:\n"
  "    \"\"\"Scale the image so that its long side is `size` pixels.\"\"\"\n"
  "    image = Image.open(path)\n"
  "    scale = size / max(image.width, image.height)\n"
  "    new_size = (round(image.width * scale), round(image.height * scale))\n"
  "    return image.resize(new_size, Image.Resampling.LANCZOS)\n"
  "```\n"
  "\n"
  "| Method | Quality | Speed |\n"
  "|--------|---------|-------|\n"
  "| `NEAREST` | blocky | fastest |\n"
  "| `BILINEAR` | smooth | fast |\n"
  "| `LANCZOS` | sharpest | slower |\n"
  "\n"
  "> Tip: call `ImageOps.exif_transpose()` first so that photos from phones keep "
  "their orientation.\n";

static const char *demo_followup = "Thanks! Does LANCZOS matter for a model input?";

static const char *demo_streaming =
  "A little. Gemma 3 resizes every image to 896 × 896 itself, so what matters most is:\n"
  "\n"
  "1. keeping the **aspect ratio** (pad instead of stretching), and\n"
  "2. not upscaling tiny images, which only adds blur.\n";

/* A sunset drawn pixel by pixel: the demo attachment. */
static KestrelImage *
draw_demo_image (void)
{
  const guint w = 640, h = 420;
  guint8 *pixels = g_malloc ((gsize) w * h * 3);

  for (guint y = 0; y < h; y++)
    for (guint x = 0; x < w; x++)
      {
        guint8 *p = pixels + ((gsize) y * w + x) * 3;
        double t = (double) y / h;
        double dx = x - 0.62 * w, dy = y - 0.58 * h;
        double ridge1 = 0.62 * h + 40 * sin (x * 0.013) + 18 * sin (x * 0.041);
        double ridge2 = 0.74 * h + 30 * sin (x * 0.009 + 1.7) + 10 * sin (x * 0.05);

        p[0] = (guint8) (90 + 160 * t);
        p[1] = (guint8) (60 + 120 * t * t);
        p[2] = (guint8) (150 - 90 * t);
        if (dx * dx + dy * dy < 60 * 60)
          {
            p[0] = 255; p[1] = 170; p[2] = 60;
          }
        if (y > ridge1)
          {
            p[0] = 70; p[1] = 50; p[2] = 80;
          }
        if (y > ridge2)
          {
            p[0] = 40; p[1] = 30; p[2] = 52;
          }
      }

  g_autoptr(GBytes) bytes = g_bytes_new_take (pixels, (gsize) w * h * 3);

  return kestrel_image_new (bytes, w, h, 3, (gsize) w * 3);
}

static GListModel *
create_demo_conversation (void)
{
  GListStore *store = g_list_store_new (KESTREL_TYPE_CHAT_MESSAGE);
  g_autoptr(KestrelImage) image = draw_demo_image ();
  g_autoptr(KestrelChatMessage) question = kestrel_chat_message_new (KESTREL_ROLE_USER, demo_question);
  g_autoptr(KestrelChatMessage) reply = kestrel_chat_message_new (KESTREL_ROLE_MODEL, demo_reply);
  g_autoptr(KestrelChatMessage) followup = kestrel_chat_message_new (KESTREL_ROLE_USER, demo_followup);
  g_autoptr(KestrelChatMessage) streaming = kestrel_chat_message_new (KESTREL_ROLE_MODEL, demo_streaming);

  kestrel_chat_message_add_image (question, image);
  kestrel_chat_message_set_branch (reply, 1, 2);
  kestrel_chat_message_set_status (streaming, KESTREL_CHAT_MESSAGE_STREAMING);

  g_list_store_append (store, question);
  g_list_store_append (store, reply);
  g_list_store_append (store, followup);
  g_list_store_append (store, streaming);

  return G_LIST_MODEL (store);
}

/* One reply in each state the chat view shows. */
static GListModel *
create_states_conversation (void)
{
  GListStore *store = g_list_store_new (KESTREL_TYPE_CHAT_MESSAGE);
  struct { KestrelRole role; const char *text; KestrelChatMessageStatus status; const char *error; } demo[] = {
    { KESTREL_ROLE_USER, "Summarise the attached report in three bullet points.", KESTREL_CHAT_MESSAGE_COMPLETE, NULL },
    { KESTREL_ROLE_MODEL, "", KESTREL_CHAT_MESSAGE_FAILED, "The GPU ran out of memory. Close other programs that use it, or choose a shorter context length in Preferences." },
    { KESTREL_ROLE_USER, "Write a long story about a kestrel.", KESTREL_CHAT_MESSAGE_COMPLETE, NULL },
    { KESTREL_ROLE_MODEL, "High above the fields, the kestrel hung in the wind as if", KESTREL_CHAT_MESSAGE_CANCELLED, NULL },
    { KESTREL_ROLE_USER, "And what happened next?", KESTREL_CHAT_MESSAGE_COMPLETE, NULL },
    { KESTREL_ROLE_MODEL, "It dropped, wings folded, toward", KESTREL_CHAT_MESSAGE_INTERRUPTED, NULL },
    { KESTREL_ROLE_USER, "Are you there?", KESTREL_CHAT_MESSAGE_COMPLETE, NULL },
    { KESTREL_ROLE_MODEL, "", KESTREL_CHAT_MESSAGE_PENDING, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (demo); i++)
    {
      g_autoptr(KestrelChatMessage) message = kestrel_chat_message_new (demo[i].role, demo[i].text);

      kestrel_chat_message_set_status (message, demo[i].status);
      kestrel_chat_message_set_error_message (message, demo[i].error);
      g_list_store_append (store, message);
    }

  return G_LIST_MODEL (store);
}

/* DEMO tool calls: the requests are put into their states by hand here; no tool ran. */
static KestrelToolCallRequest *
demo_call (const char            *name,
           const char            *arguments,
           KestrelToolCallStatus  status,
           KestrelToolApproval    approval,
           const char            *result)
{
  KestrelToolCallRequest *request = kestrel_tool_call_request_new (name, arguments, FALSE);

  kestrel_tool_call_request_set_approval (request, approval);
  if (status == KESTREL_TOOL_CALL_STATUS_RUNNING)
    kestrel_tool_call_request_set_running (request);
  else if (status == KESTREL_TOOL_CALL_STATUS_COMPLETE)
    kestrel_tool_call_request_set_result (request, result);
  else if (status == KESTREL_TOOL_CALL_STATUS_ERROR)
    kestrel_tool_call_request_set_error (request, result, NULL);
  return request;
}

static void
add_demo_message (GListStore             *store,
                  KestrelRole             role,
                  const char             *text,
                  KestrelToolCallRequest *first,
                  KestrelToolCallRequest *second)
{
  g_autoptr(KestrelChatMessage) message = kestrel_chat_message_new (role, text);

  if (first != NULL)
    {
      kestrel_chat_message_add_tool_call (message, first);
      g_object_unref (first);
    }
  if (second != NULL)
    {
      kestrel_chat_message_add_tool_call (message, second);
      g_object_unref (second);
    }
  g_list_store_append (store, message);
}

/* A call that ran, its continuation, and a call waiting for approval. */
static GListModel *
create_tools_conversation (void)
{
  GListStore *store = g_list_store_new (KESTREL_TYPE_CHAT_MESSAGE);

  add_demo_message (store, KESTREL_ROLE_USER, "What time is it in Tokyo, and what is 2^10?", NULL, NULL);
  add_demo_message (store, KESTREL_ROLE_MODEL, "",
                    demo_call ("get_current_datetime", "{\"timezone\":\"Asia/Tokyo\"}",
                               KESTREL_TOOL_CALL_STATUS_COMPLETE, KESTREL_TOOL_APPROVAL_AUTOMATIC,
                               "{\"datetime\": \"2026-11-27T05:55:00+09:00\", \"weekday\": \"Friday\", \"timezone\": \"Asia/Tokyo\"}"),
                    demo_call ("calculator", "{\"expression\":\"2^10\"}",
                               KESTREL_TOOL_CALL_STATUS_COMPLETE, KESTREL_TOOL_APPROVAL_AUTOMATIC,
                               "{\"expression\": \"2^10\", \"result\": 1024}"));
  add_demo_message (store, KESTREL_ROLE_MODEL, "In Tokyo it is **05:55 on Friday**, and 2^10 = **1024**.", NULL, NULL);
  add_demo_message (store, KESTREL_ROLE_USER, "What did we say about pelicans last week?", NULL, NULL);
  add_demo_message (store, KESTREL_ROLE_MODEL, "Let me look through our earlier conversations.\n",
                    demo_call ("search_history", "{\"query\":\"pelicans\",\"limit\":5}",
                               KESTREL_TOOL_CALL_STATUS_PENDING, KESTREL_TOOL_APPROVAL_PENDING, NULL),
                    NULL);
  return G_LIST_MODEL (store);
}

/* Running, denied, failed, and a long result (collapsed). */
static GListModel *
create_tool_states_conversation (void)
{
  GListStore *store = g_list_store_new (KESTREL_TYPE_CHAT_MESSAGE);
  g_autoptr(GString) long_result = g_string_new ("{\"results\": [");

  for (int i = 0; i < 12; i++)
    g_string_append_printf (long_result, "%s{\"conversation\": \"Birds of the coast\", \"text\": \"pelicans dive for fish (%d)\"}",
                            i ? ", " : "", i);
  g_string_append (long_result, "]}");

  add_demo_message (store, KESTREL_ROLE_USER, "Summarise my notes file and check the weather.", NULL, NULL);
  add_demo_message (store, KESTREL_ROLE_MODEL, "",
                    demo_call ("read_file", "{\"purpose\":\"summarise the user's notes\"}",
                               KESTREL_TOOL_CALL_STATUS_ERROR, KESTREL_TOOL_APPROVAL_DENIED,
                               "The user denied this call"),
                    demo_call ("weather", "{\"city\":\"Lisbon\"}",
                               KESTREL_TOOL_CALL_STATUS_ERROR, KESTREL_TOOL_APPROVAL_APPROVED,
                               "The tool \u201cweather\u201d did not finish within 10 seconds and was stopped"));
  add_demo_message (store, KESTREL_ROLE_MODEL, "",
                    demo_call ("search_history", "{\"query\":\"pelicans\"}",
                               KESTREL_TOOL_CALL_STATUS_COMPLETE, KESTREL_TOOL_APPROVAL_APPROVED,
                               long_result->str),
                    demo_call ("convert_units", "{\"value\":12,\"from_unit\":\"mi\",\"to_unit\":\"km\"}",
                               KESTREL_TOOL_CALL_STATUS_RUNNING, KESTREL_TOOL_APPROVAL_AUTOMATIC, NULL));
  return G_LIST_MODEL (store);
}

static gpointer
find_descendant (GtkWidget *widget,
                 GType      type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type))
    return widget;

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      gpointer found = find_descendant (child, type);

      if (found != NULL)
        return found;
    }

  return NULL;
}

/* Demo conversations in an in-memory store, imported with chosen update times so that the
 * sidebar shows its date groups. */
static void
add_demo_sidebar (KestrelWindow *window)
{
  static const struct { const char *title; int days_back; gboolean pinned; } rows[] = {
    { "Kestrel release checklist", 20, TRUE },
    { "Resizing a picture for a model", 0, FALSE },
    { "Lisbon in three days", 0, FALSE },
    { "What FP8 quantization does", 1, FALSE },
    { "Sourdough starter schedule", 1, FALSE },
    { "Regex for ISO dates", 3, FALSE },
    { "Birthday poem for Ana", 5, FALSE },
  };
  g_autoptr(KestrelStore) store = kestrel_store_new_in_memory (NULL);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  gint64 selected = 0;

  g_assert (store != NULL);
  /* oldest first, so that the ids follow the times */
  for (int i = G_N_ELEMENTS (rows) - 1; i >= 0; i--)
    {
      g_autoptr(GDateTime) day = g_date_time_add_days (now, -rows[i].days_back);
      g_autoptr(GDateTime) then = g_date_time_add_seconds (day, -60 * i);
      gint64 at = g_date_time_to_unix_usec (then);
      g_autofree char *json = g_strdup_printf ("{\"format\": \"kestrel-conversation\", \"version\": 1,"
                                               " \"title\": \"%s\", \"title_source\": \"user\","
                                               " \"created_at\": %" G_GINT64_FORMAT ","
                                               " \"updated_at\": %" G_GINT64_FORMAT ","
                                               " \"pinned\": %s, \"archived\": false, \"system_prompt\": \"\","
                                               " \"selected_root\": null, \"messages\": []}",
                                               rows[i].title, at, at, rows[i].pinned ? "true" : "false");
      g_autoptr(KestrelConversation) conversation = kestrel_store_import_json (store, json, -1, NULL);

      g_assert (conversation != NULL);
      if (i == 1)
        selected = kestrel_conversation_get_id (conversation);
    }
  kestrel_sidebar_set_store (kestrel_window_get_sidebar (window), store);
  /* the list loads on the store's thread */
  for (int tries = 0; tries < 5000 && g_list_model_get_n_items (kestrel_sidebar_get_conversations (
         kestrel_window_get_sidebar (window))) < G_N_ELEMENTS (rows); tries++)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  kestrel_sidebar_select_conversation (kestrel_window_get_sidebar (window), selected);
}

static gboolean
count_frame_cb (GtkWidget     *widget,
                GdkFrameClock *clock,
                gpointer       user_data)
{
  (*(int *) user_data)++;
  return G_SOURCE_CONTINUE;
}

/* Lets the window lay out and draw: a number of frames, then idle. */
static void
settle (GtkWidget *window,
        int        n_frames)
{
  int frames = 0;
  guint id = gtk_widget_add_tick_callback (window, count_frame_cb, &frames, NULL);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (frames < n_frames && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  gtk_widget_remove_tick_callback (window, id);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
save_window (GtkWidget  *window,
             const char *name)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (window);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *path = g_build_filename (output_dir, name, NULL);
  int width = gtk_widget_get_width (window);
  int height = gtk_widget_get_height (window);

  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_to_node (snapshot);
  g_assert (node != NULL);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (window)), node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  if (!gdk_texture_save_to_png (texture, path))
    g_error ("could not write %s", path);
  g_print ("wrote %s (%d × %d)\n", path, width, height);
}

static void
resize (GtkWidget *window,
        int        width,
        int        height)
{
  gtk_window_set_default_size (GTK_WINDOW (window), width, height);
  settle (window, 20);
}

static void
wait_for_download_state (KestrelDownloadPage      *page,
                         KestrelDownloadPageState  state)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  while (kestrel_download_page_get_state (page) != state && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert (kestrel_download_page_get_state (page) == state);
}

/* The download page in progress, a gated model asking for a token, and the library. */
static void
download_scenes (GtkWidget *window)
{
  g_autoptr(TestHub) hub = test_hub_new ();
  g_autoptr(KestrelTokenStore) store = kestrel_memory_token_store_new ();
  g_autoptr(KestrelModelLibrary) library = kestrel_model_library_new ();
  AdwDialog *dialog = kestrel_download_page_new (store);
  KestrelDownloadPage *page = KESTREL_DOWNLOAD_PAGE (dialog);
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  KestrelDownloader *downloader;

  kestrel_download_page_set_endpoint (page, test_hub_get_endpoint (hub));
  adw_dialog_present (dialog, window);
  settle (window, 30);
  save_window (window, "download-start.png");

  /* "slow" trickles 16 KiB every 10 ms: caught between a third and 90 % */
  kestrel_download_page_set_repo_id (page, "kestrel-test/slow");
  kestrel_download_page_start (page);
  while (g_get_monotonic_time () < deadline)
    {
      downloader = kestrel_download_page_get_downloader (page);
      if (downloader != NULL && kestrel_downloader_get_bytes_total (downloader) > 0 &&
          kestrel_downloader_get_bytes_done (downloader) * 3 > kestrel_downloader_get_bytes_total (downloader) &&
          kestrel_downloader_get_speed (downloader) > 0)
        break;
      g_main_context_iteration (NULL, TRUE);
    }
  settle (window, 2);
  g_assert (kestrel_download_page_get_state (page) == KESTREL_DOWNLOAD_PAGE_RUNNING);
  save_window (window, "download-progress.png");
  wait_for_download_state (page, KESTREL_DOWNLOAD_PAGE_DONE);

  kestrel_download_page_set_repo_id (page, "kestrel-test/gated");
  kestrel_download_page_start (page);
  wait_for_download_state (page, KESTREL_DOWNLOAD_PAGE_FAILED);
  settle (window, 30);
  save_window (window, "download-gated.png");
  adw_dialog_force_close (dialog);
  settle (window, 30);

  kestrel_model_library_add_default_roots (library);
  dialog = kestrel_model_library_page_new (library);
  adw_dialog_present (dialog, window);
  while (!kestrel_model_library_page_get_loaded (KESTREL_MODEL_LIBRARY_PAGE (dialog)))
    g_main_context_iteration (NULL, TRUE);
  settle (window, 30);
  save_window (window, "model-library.png");
  adw_dialog_force_close (dialog);
  settle (window, 10);
}

static void
activate_cb (GApplication *app)
{
  KestrelWindow *window = kestrel_window_new (KESTREL_APPLICATION (app));
  GtkWidget *widget = GTK_WIDGET (window);
  AdwStyleManager *style = adw_style_manager_get_default ();
  g_autoptr(GListModel) demo = create_demo_conversation ();
  g_autoptr(KestrelImage) attachment = draw_demo_image ();
  KestrelChatPage *page = kestrel_window_get_chat_page (window);
  AdwNavigationSplitView *split;
  g_autoptr(GSettings) settings = g_settings_new ("io.github.kestrelchat.Kestrel");

  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_LIGHT);
  gtk_window_set_default_size (GTK_WINDOW (window), 1100, 820);
  /* as with the session attached (kestrel-window-session.c offers the download) */
  kestrel_model_status_page_set_can_download (kestrel_window_get_model_status_page (window), TRUE);
  gtk_window_present (GTK_WINDOW (window));
  settle (widget, 30);
  save_window (widget, "empty-state.png");

  add_demo_sidebar (window);
  kestrel_window_show_chat (window, TRUE);
  kestrel_chat_view_set_model (kestrel_chat_page_get_chat_view (page), demo);
  kestrel_composer_set_text (kestrel_chat_page_get_composer (page), "");
  settle (widget, 60);
  /* the start of the demo: the picture, the reply and its code block (the view then offers
   * its jump-to-latest button) */
  gtk_adjustment_set_value (kestrel_chat_view_get_vadjustment (kestrel_chat_page_get_chat_view (page)), 0);
  settle (widget, 30);
  save_window (widget, "conversation.png");

  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_DARK);
  settle (widget, 30);
  save_window (widget, "conversation-dark.png");
  adw_style_manager_set_color_scheme (style, ADW_COLOR_SCHEME_FORCE_LIGHT);

  {
    g_autoptr(GdkTexture) texture = NULL;

    texture = gdk_memory_texture_new (kestrel_image_get_width (attachment),
                                      kestrel_image_get_height (attachment), GDK_MEMORY_R8G8B8,
                                      kestrel_image_get_pixels (attachment),
                                      kestrel_image_get_stride (attachment));
    kestrel_composer_add_texture (kestrel_chat_page_get_composer (page), texture);
    while (kestrel_composer_get_n_pending (kestrel_chat_page_get_composer (page)) > 0)
      g_main_context_iteration (NULL, TRUE);
    kestrel_composer_set_text (kestrel_chat_page_get_composer (page), "And this one?");
  }
  split = find_descendant (widget, ADW_TYPE_NAVIGATION_SPLIT_VIEW);
  resize (widget, 360, 720);
  adw_navigation_split_view_set_show_content (split, TRUE);
  settle (widget, 40);
  save_window (widget, "narrow.png");

  resize (widget, 1100, 820);
  {
    g_autoptr(GListModel) states = create_states_conversation ();

    kestrel_chat_view_set_model (kestrel_chat_page_get_chat_view (page), states);
    kestrel_composer_set_busy (kestrel_chat_page_get_composer (page), TRUE);
    settle (widget, 40);
    save_window (widget, "message-states.png");
    kestrel_composer_set_busy (kestrel_chat_page_get_composer (page), FALSE);
  }
  {
    g_autoptr(GListModel) tools = create_tools_conversation ();

    GtkAdjustment *adjustment = kestrel_chat_view_get_vadjustment (kestrel_chat_page_get_chat_view (page));

    kestrel_chat_view_set_model (kestrel_chat_page_get_chat_view (page), tools);
    settle (widget, 60);
    /* the end: the continued answer and the call that waits for approval */
    gtk_adjustment_set_value (adjustment, gtk_adjustment_get_upper (adjustment) - gtk_adjustment_get_page_size (adjustment));
    settle (widget, 30);
    save_window (widget, "tool-calls.png");
  }
  {
    g_autoptr(GListModel) tool_states = create_tool_states_conversation ();

    kestrel_chat_view_set_model (kestrel_chat_page_get_chat_view (page), tool_states);
    settle (widget, 60);
    gtk_adjustment_set_value (kestrel_chat_view_get_vadjustment (kestrel_chat_page_get_chat_view (page)), 0);
    settle (widget, 30);
    save_window (widget, "tool-call-states.png");
  }
  g_settings_set_string (settings, "model-folder",
                         "/home/user/.cache/huggingface/hub/models--BCCard--gemma-3-4b-it-FP8-Dynamic/snapshots/main");
  gtk_widget_activate_action (widget, "win.preferences", NULL);
  settle (widget, 40);
  save_window (widget, "preferences.png");
  adw_dialog_close (adw_application_window_get_visible_dialog (ADW_APPLICATION_WINDOW (window)));
  settle (widget, 30);

  download_scenes (widget);

  gtk_window_destroy (GTK_WINDOW (window));
  /* the application's own handler would open another window */
  g_signal_stop_emission_by_name (app, "activate");
}

static void
remove_tree (const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileEnumerator) children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                                                   G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS,
                                                                   NULL, NULL);
  GFileInfo *info;

  while (children != NULL && (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, g_file_info_get_name (info), NULL);

      remove_tree (child);
      g_object_unref (info);
    }
  g_remove (path);
}

static GtkWindow *
create_window (KestrelApplication *application)
{
  return GTK_WINDOW (kestrel_window_new (application));
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(KestrelApplication) app = NULL;
  int status;

  if (argc != 2)
    {
      g_printerr ("usage: %s OUTPUT-DIR\n", argv[0]);
      return 2;
    }
  output_dir = argv[1];
  g_mkdir_with_parents (output_dir, 0755);
  /* the downloads (and the database) go to a temporary folder, and no proxy comes between
   * the page and the Hub look-alike on 127.0.0.1 */
  tmp_root = g_dir_make_tmp ("kestrel-screenshot-XXXXXX", NULL);
  g_setenv ("XDG_DATA_HOME", tmp_root, TRUE);
  g_setenv ("HF_HUB_CACHE", tmp_root, TRUE);
  g_setenv ("no_proxy", "127.0.0.1,localhost", TRUE);
  g_unsetenv ("http_proxy");
  g_unsetenv ("HTTP_PROXY");
  g_unsetenv ("all_proxy");
  g_unsetenv ("ALL_PROXY");

  app = kestrel_application_new (create_window);
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_signal_connect (app, "activate", G_CALLBACK (activate_cb), NULL);
  status = g_application_run (G_APPLICATION (app), 1, argv);
  remove_tree (tmp_root);
  g_free (tmp_root);
  return status;
}
