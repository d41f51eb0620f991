/* kestrel-test-fixture.h — what the app and ui tests share: a temporary folder with a tiny
 * generated Gemma 3 checkpoint, removed again at the end.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "ke-checkpoint-writer.h"

static inline gboolean
kestrel_test_wake_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the main loop until done(data) or `seconds` pass; returns done(data).  A ticking
 * source keeps the loop from sleeping past the deadline when nothing else happens. */
static inline gboolean
kestrel_test_iterate_until (gboolean (*done) (gpointer), gpointer data, int seconds)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC;
  guint tick = g_timeout_add (100, kestrel_test_wake_cb, NULL);

  while (!done (data) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  return done (data);
}

/* Removes a folder and everything in it (no symlinks followed). */
static inline void
kestrel_test_remove_tree (const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileEnumerator) children =
    g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME,
                               G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  GFileInfo *info;

  while (children != NULL && (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, g_file_info_get_name (info), NULL);

      kestrel_test_remove_tree (child);
      g_object_unref (info);
    }
  g_remove (path);
}

/* Makes a temporary folder (returned in *tmp_root) holding `tiny/`, a tiny fp8 checkpoint
 * of the given seed with the shared tokenizer fixture; returns the checkpoint's path. */
static inline char *
kestrel_test_make_tiny_checkpoint (const char *tmp_template,
                                   guint64     seed,
                                   char      **tmp_root)
{
  ke_gen_options options;
  ke_error *error = NULL;
  char *dir;

  *tmp_root = g_dir_make_tmp (tmp_template, NULL);
  g_assert_nonnull (*tmp_root);
  dir = g_build_filename (*tmp_root, "tiny", NULL);
  ke_gen_options_init (&options);
  options.shape = "tiny";
  options.seed = seed;
  if (!ke_gen_checkpoint (dir, &options, NULL, NULL, &error))
    g_error ("cannot generate the tiny checkpoint: %s", error->message);
  return dir;
}
