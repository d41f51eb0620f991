/* test-model-library.c — finding models on disk: the Hugging Face cache, Kestrel's
 * downloads, picked folders; format detection; removing.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "kestrel-model-library.h"

static const char fp8_config[] =
  "{\"model_type\": \"gemma3\", \"quantization_config\": {\"quant_method\": \"compressed-tensors\","
  " \"config_groups\": {\"group_0\": {\"weights\": {\"num_bits\": 8, \"type\": \"float\"},"
  " \"input_activations\": {\"num_bits\": 8, \"type\": \"float\", \"dynamic\": true}}}}}";
static const char bf16_config[] =
  "{\"model_type\": \"gemma3\", \"text_config\": {\"torch_dtype\": \"bfloat16\"}}";

static void
write_file (const char *dir,
            const char *name,
            const char *contents,
            gsize       length)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (parent, 0700), ==, 0);
  g_file_set_contents (path, contents, length, &error);
  g_assert_no_error (error);
}

static void
delete_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        delete_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static void
test_format_detection (void)
{
  static const struct { const char *config; const char *format; const char *arch; } cases[] = {
    { fp8_config, "FP8 (compressed-tensors, dynamic activations)", "gemma3" },
    { "{\"quantization_config\": {\"quant_method\": \"compressed-tensors\", \"config_groups\":"
      " {\"g\": {\"weights\": {\"num_bits\": 8, \"type\": \"float\"}}}}}",
      "FP8 (compressed-tensors)", NULL },
    { "{\"quantization_config\": {\"quant_method\": \"compressed-tensors\", \"config_groups\":"
      " {\"g\": {\"weights\": {\"num_bits\": 4, \"type\": \"int\"}}}}}",
      "INT4 (compressed-tensors)", NULL },
    { "{\"quantization_config\": {\"quant_method\": \"fp8\"}}", "FP8", NULL },
    { "{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4}}", "GPTQ 4-bit", NULL },
    { "{\"quantization_config\": {\"quant_method\": \"awq\", \"bits\": 4}}", "AWQ 4-bit", NULL },
    { "{\"quantization_config\": {\"quant_method\": \"bitsandbytes\", \"load_in_4bit\": true}}",
      "bitsandbytes 4-bit", NULL },
    { bf16_config, "BF16", "gemma3" },
    { "{\"model_type\": \"gemma3_text\", \"torch_dtype\": \"float32\"}", "F32", "gemma3_text" },
    { "{\"dtype\": \"float16\"}", "F16", NULL },
    { "{}", "unknown", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *arch = NULL;
      g_autofree char *format = kestrel_model_format_from_config (cases[i].config, -1, &arch,
                                                                  &error);

      g_assert_no_error (error);
      g_assert_cmpstr (format, ==, cases[i].format);
      g_assert_cmpstr (arch, ==, cases[i].arch);
    }

  /* bad input is an error, not a crash */
  {
    g_autoptr(GError) error = NULL;
    g_autofree char *format = kestrel_model_format_from_config ("[1, 2", -1, NULL, &error);

    g_assert_null (format);
    g_assert_nonnull (error);
  }
  {
    g_autoptr(GError) error = NULL;
    g_autofree char *format = kestrel_model_format_from_config ("[1, 2]", -1, NULL, &error);

    g_assert_null (format);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  }
}

typedef struct
{
  GMainLoop *loop;
  gboolean   ok;
  GError    *error;
} Wait;

static void
refresh_done_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Wait *wait = user_data;

  wait->ok = kestrel_model_library_refresh_finish (KESTREL_MODEL_LIBRARY (object), result,
                                                   &wait->error);
  g_main_loop_quit (wait->loop);
}

static void
remove_done_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  Wait *wait = user_data;

  wait->ok = kestrel_model_library_remove_finish (KESTREL_MODEL_LIBRARY (object), result,
                                                  &wait->error);
  g_main_loop_quit (wait->loop);
}

static void
refresh (KestrelModelLibrary *library)
{
  Wait wait = { g_main_loop_new (NULL, FALSE), FALSE, NULL };

  kestrel_model_library_refresh_async (library, NULL, refresh_done_cb, &wait);
  g_main_loop_run (wait.loop);
  g_main_loop_unref (wait.loop);
  g_assert_no_error (wait.error);
  g_assert_true (wait.ok);
}

static gboolean
remove_entry (KestrelModelLibrary  *library,
              KestrelModelEntry    *entry,
              GError              **error)
{
  Wait wait = { g_main_loop_new (NULL, FALSE), FALSE, NULL };

  kestrel_model_library_remove_async (library, entry, NULL, remove_done_cb, &wait);
  g_main_loop_run (wait.loop);
  g_main_loop_unref (wait.loop);
  if (wait.error != NULL)
    g_propagate_error (error, wait.error);
  return wait.ok;
}

static KestrelModelEntry *
find (KestrelModelLibrary *library,
      const char          *name)
{
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (library)); i++)
    {
      g_autoptr(KestrelModelEntry) entry = g_list_model_get_item (G_LIST_MODEL (library), i);

      if (strcmp (kestrel_model_entry_get_name (entry), name) == 0)
        return g_steal_pointer (&entry);
    }
  return NULL;
}

static void
items_changed_cb (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  guint      *count)
{
  (*count)++;
}

/* A cache laid out as huggingface_hub writes it: blobs named by hash, refs/main holding the
 * commit, the snapshot's files symlinked to the blobs. */
static void
make_hf_cache (const char *cache)
{
  g_autofree char *repo = g_build_filename (cache, "models--BCCard--gemma-3-4b-it-FP8-Dynamic", NULL);
  g_autofree char *snapshot = g_build_filename (repo, "snapshots", "abc123", NULL);
  g_autofree char *weights = g_malloc0 (10000);
  g_autofree char *link1 = g_build_filename (snapshot, "config.json", NULL);
  g_autofree char *link2 = g_build_filename (snapshot, "model.safetensors", NULL);

  write_file (repo, "blobs/1111", fp8_config, strlen (fp8_config));
  write_file (repo, "blobs/2222", weights, 10000);
  write_file (repo, "refs/main", "abc123", 6);
  g_assert_cmpint (g_mkdir_with_parents (snapshot, 0700), ==, 0);
  g_assert_cmpint (symlink ("../../blobs/1111", link1), ==, 0);
  g_assert_cmpint (symlink ("../../blobs/2222", link2), ==, 0);
  /* an older snapshot that refs/main does not name */
  write_file (repo, "snapshots/old999/config.json", bf16_config, strlen (bf16_config));

  /* not models */
  write_file (cache, "datasets--someone--data/snapshots/x/config.json", "{}", 2);
  write_file (cache, "models--broken--json/refs/main", "c1", 2);
  write_file (cache, "models--broken--json/snapshots/c1/config.json", "{oops", 5);
  write_file (cache, ".locks/models--BCCard--gemma-3-4b-it-FP8-Dynamic/1111.lock", "", 0);
}

static void
test_library (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *base = g_dir_make_tmp ("kestrel-library-XXXXXX", &error);
  g_autofree char *cache = g_build_filename (base, "hf", "hub", NULL);
  g_autofree char *downloads = g_build_filename (base, "downloads", NULL);
  g_autofree char *picked = g_build_filename (base, "picked", "my-gemma", NULL);
  g_autoptr(GFile) cache_file = g_file_new_for_path (cache);
  g_autoptr(GFile) downloads_file = g_file_new_for_path (downloads);
  g_autoptr(GFile) picked_file = g_file_new_for_path (picked);
  g_autoptr(KestrelModelLibrary) library = kestrel_model_library_new ();
  g_autoptr(KestrelModelEntry) cached = NULL;
  g_autoptr(KestrelModelEntry) downloaded = NULL;
  g_autoptr(KestrelModelEntry) mine = NULL;
  g_autoptr(GFile) cache_repo = NULL;
  g_autofree char *snapshot_path = NULL;
  guint changes = 0;

  g_assert_no_error (error);
  make_hf_cache (cache);
  write_file (downloads, "google--gemma-3-4b-it/config.json", bf16_config, strlen (bf16_config));
  write_file (downloads, "google--gemma-3-4b-it/model.safetensors.partial", "0123456789", 10);
  write_file (downloads, "not-a-model/readme.txt", "hi", 2);
  write_file (picked, "config.json", fp8_config, strlen (fp8_config));
  write_file (picked, "model-00001-of-00001.safetensors", "abcd", 4);

  kestrel_model_library_add_root (library, cache_file, KESTREL_MODEL_SOURCE_HF_CACHE);
  kestrel_model_library_add_root (library, downloads_file, KESTREL_MODEL_SOURCE_DOWNLOADS);
  kestrel_model_library_add_root (library, picked_file, KESTREL_MODEL_SOURCE_FOLDER);
  kestrel_model_library_add_root (library, picked_file, KESTREL_MODEL_SOURCE_FOLDER);
  g_signal_connect (library, "items-changed", G_CALLBACK (items_changed_cb), &changes);
  g_assert_true (g_list_model_get_item_type (G_LIST_MODEL (library)) == KESTREL_TYPE_MODEL_ENTRY);

  refresh (library);
  g_assert_cmpuint (changes, ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (library)), ==, 3);

  /* the cache: name from models--org--name, the snapshot refs/main names, sizes through
   * the symlinks */
  cached = find (library, "BCCard/gemma-3-4b-it-FP8-Dynamic");
  g_assert_nonnull (cached);
  snapshot_path = g_file_get_path (kestrel_model_entry_get_folder (cached));
  g_assert_true (g_str_has_suffix (snapshot_path, "snapshots/abc123"));
  g_assert_cmpuint (kestrel_model_entry_get_size (cached), ==, 10000 + strlen (fp8_config));
  g_assert_cmpstr (kestrel_model_entry_get_format (cached), ==,
                   "FP8 (compressed-tensors, dynamic activations)");
  g_assert_cmpstr (kestrel_model_entry_get_architecture (cached), ==, "gemma3");
  g_assert_cmpint (kestrel_model_entry_get_source (cached), ==, KESTREL_MODEL_SOURCE_HF_CACHE);
  g_assert_true (kestrel_model_entry_get_complete (cached));

  /* Kestrel's downloads: org--name → org/name; a .partial marks it unfinished */
  downloaded = find (library, "google/gemma-3-4b-it");
  g_assert_nonnull (downloaded);
  g_assert_cmpstr (kestrel_model_entry_get_format (downloaded), ==, "BF16");
  g_assert_false (kestrel_model_entry_get_complete (downloaded));
  g_assert_cmpuint (kestrel_model_entry_get_size (downloaded), ==, strlen (bf16_config) + 10);

  /* a picked model folder */
  mine = find (library, "my-gemma");
  g_assert_nonnull (mine);
  g_assert_cmpint (kestrel_model_entry_get_source (mine), ==, KESTREL_MODEL_SOURCE_FOLDER);
  g_assert_cmpuint (kestrel_model_entry_get_size (mine), ==, strlen (fp8_config) + 4);

  /* removing a cached model deletes its whole models--org--name (blobs too) */
  cache_repo = g_object_ref (kestrel_model_entry_get_removable (cached));
  g_assert_true (remove_entry (library, cached, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_query_exists (cache_repo, NULL));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (library)), ==, 2);
  g_assert_cmpuint (changes, ==, 2);
  g_assert_null (find (library, "BCCard/gemma-3-4b-it-FP8-Dynamic"));
  /* the rest of the cache is untouched */
  {
    g_autofree char *other = g_build_filename (cache, "datasets--someone--data", NULL);

    g_assert_true (g_file_test (other, G_FILE_TEST_IS_DIR));
  }

  /* removing it twice is an error, not a second deletion */
  g_assert_false (remove_entry (library, cached, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* a refresh finds the same minus the removed one */
  refresh (library);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (library)), ==, 2);

  /* entries of an earlier scan are not the library's any more */
  g_assert_false (remove_entry (library, downloaded, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_clear_object (&downloaded);
  g_clear_object (&mine);
  downloaded = find (library, "google/gemma-3-4b-it");
  mine = find (library, "my-gemma");
  g_assert_true (remove_entry (library, downloaded, &error));
  g_assert_true (remove_entry (library, mine, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_query_exists (picked_file, NULL));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (library)), ==, 0);

  delete_tree (base);
}

static void
test_default_roots (void)
{
  g_autoptr(GFile) cache = NULL;
  g_autofree char *path = NULL;

  g_setenv ("HF_HUB_CACHE", "/somewhere/hub", TRUE);
  cache = kestrel_model_library_default_hf_cache ();
  path = g_file_get_path (cache);
  g_assert_cmpstr (path, ==, "/somewhere/hub");
  g_clear_object (&cache);
  g_clear_pointer (&path, g_free);

  g_unsetenv ("HF_HUB_CACHE");
  g_setenv ("HF_HOME", "/home/x/hf", TRUE);
  cache = kestrel_model_library_default_hf_cache ();
  path = g_file_get_path (cache);
  g_assert_cmpstr (path, ==, "/home/x/hf/hub");
  g_clear_object (&cache);
  g_clear_pointer (&path, g_free);

  g_unsetenv ("HF_HOME");
  cache = kestrel_model_library_default_hf_cache ();
  path = g_file_get_path (cache);
  g_assert_true (g_str_has_suffix (path, "/huggingface/hub"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/model-library/format", test_format_detection);
  g_test_add_func ("/model-library/scan-and-remove", test_library);
  g_test_add_func ("/model-library/default-roots", test_default_roots);

  return g_test_run ();
}
