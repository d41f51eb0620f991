/* test-download-disk-full.c — disk full before and while downloading, in a tmpfs.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The test re-runs itself in a private user + mount namespace (no root needed where user
 * namespaces are allowed) with a 1 MiB tmpfs as the destination; where that is impossible
 * it is skipped and says why.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "test-download-util.h"

#define TMPFS_SIZE_KB 1024

static char *tmpfs_dir;      /* set in the child when the tmpfs is mounted */
static char *tmpfs_failure;  /* why not, otherwise */

static gboolean
write_file (const char *path,
            const char *text)
{
  int fd = open (path, O_WRONLY);
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = write (fd, text, strlen (text)) == (ssize_t) strlen (text);
  close (fd);
  return ok;
}

/* Runs before g_test_init(), while the process has one thread (unshare needs that). */
static void
maybe_enter_tmpfs (void)
{
  const char *dir = g_getenv ("KESTREL_TEST_TMPFS");
  g_autofree char *map = NULL;
  uid_t uid = getuid ();
  gid_t gid = getgid ();
  char options[64];

  if (dir == NULL)
    return;
  if (unshare (uid == 0 ? CLONE_NEWNS : CLONE_NEWUSER | CLONE_NEWNS) != 0)
    {
      tmpfs_failure = g_strdup_printf ("unshare: %s", g_strerror (errno));
      return;
    }
  if (uid != 0)
    {
      map = g_strdup_printf ("%u %u 1", uid, uid);
      write_file ("/proc/self/setgroups", "deny");
      if (!write_file ("/proc/self/uid_map", map))
        {
          tmpfs_failure = g_strdup ("cannot write uid_map");
          return;
        }
      g_free (map);
      map = g_strdup_printf ("%u %u 1", gid, gid);
      write_file ("/proc/self/gid_map", map);
    }
  mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
  g_snprintf (options, sizeof options, "size=%uk", TMPFS_SIZE_KB);
  if (mount ("tmpfs", dir, "tmpfs", 0, options) != 0)
    {
      tmpfs_failure = g_strdup_printf ("mount tmpfs: %s", g_strerror (errno));
      return;
    }
  tmpfs_dir = g_strdup (dir);
}

typedef struct
{
  char     *filler;
  gboolean  filled;
} Filler;

/* Once the download is under way, take the rest of the tmpfs. */
static void
fill_disk_cb (KestrelDownloader *downloader,
              GParamSpec        *pspec,
              Filler            *filler)
{
  g_autofree guint8 *block = NULL;
  int fd;

  if (filler->filled || kestrel_downloader_get_bytes_done (downloader) < 64 * 1024)
    return;
  filler->filled = TRUE;
  block = g_malloc0 (64 * 1024);
  fd = open (filler->filler, O_WRONLY | O_CREAT, 0644);
  g_assert_cmpint (fd, >=, 0);
  while (write (fd, block, 64 * 1024) > 0)
    ;
  while (write (fd, block, 512) > 0)
    ;
  close (fd);
}

static void
test_disk_full_child (void)
{
  g_autoptr(GFile) destination = NULL;
  g_autoptr(GFile) small_tmpfs = NULL;
  g_autoptr(KestrelDownloader) downloader = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) partial = NULL;
  g_autofree char *marker = NULL;
  g_autofree char *small = NULL;
  Filler filler = { 0 };

  if (!g_test_subprocess ())
    {
      g_test_skip ("runs inside /download/disk-full");
      return;
    }
  if (tmpfs_dir == NULL)
    {
      g_printerr ("tmpfs unavailable: %s\n", tmpfs_failure ? tmpfs_failure : "not asked for");
      return;
    }

  /* 1. before starting: the checkpoint (~0.9 MB) does not fit in what is left */
  small = g_build_filename (tmpfs_dir, "big", NULL);
  g_file_set_contents (small, "", 0, NULL);
  {
    /* leave ~400 kB free */
    g_autofree guint8 *block = g_malloc0 ((TMPFS_SIZE_KB - 400) * 1024);

    g_assert_true (g_file_set_contents (small, (const char *) block,
                                        (TMPFS_SIZE_KB - 400) * 1024, NULL));
  }
  destination = g_file_new_build_filename (tmpfs_dir, "model", NULL);
  downloader = new_downloader ("kestrel-test/slow", destination);
  test_hub_reset (hub);
  g_assert_false (run_download (downloader, NULL, &error));
  g_assert_error (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_NO_SPACE);
  g_assert_nonnull (strstr (error->message, "No space left: needs"));
  g_test_message ("%s", error->message);
  g_assert_cmpuint (test_hub_count (hub, "/cdn/"), ==, 0);
  g_clear_error (&error);
  g_unlink (small);

  /* 2. while writing: something else takes the space mid-download */
  filler.filler = g_build_filename (tmpfs_dir, "filler", NULL);
  g_signal_connect (downloader, "notify::bytes-done", G_CALLBACK (fill_disk_cb), &filler);
  g_assert_false (run_download (downloader, NULL, &error));
  g_assert_true (filler.filled);
  g_assert_error (error, KESTREL_DOWNLOAD_ERROR, KESTREL_DOWNLOAD_ERROR_NO_SPACE);
  g_assert_nonnull (strstr (error->message, "model.safetensors"));
  g_test_message ("%s", error->message);
  partial = g_file_get_child (destination, "model.safetensors.partial");
  g_assert_true (g_file_query_exists (partial, NULL));
  g_clear_error (&error);

  /* 3. space again: the download resumes and completes */
  g_unlink (filler.filler);
  g_signal_handlers_disconnect_by_data (downloader, &filler);
  g_assert_true (run_download (downloader, NULL, &error));
  g_assert_no_error (error);
  assert_checkpoint (destination);
  g_assert_cmpint (range_start_of ("/cdn/kestrel-test/slow/"), >, 0);
  g_free (filler.filler);

  /* tell the parent that this really ran */
  marker = g_strconcat (g_getenv ("KESTREL_TEST_TMPFS"), ".ran", NULL);
  g_assert_true (g_file_set_contents (marker, "", 0, NULL));
}

static void
test_disk_full (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *base = g_dir_make_tmp ("kestrel-diskfull-XXXXXX", &error);
  g_autofree char *mount_point = g_build_filename (base, "tmpfs", NULL);
  g_autofree char *marker = g_strconcat (mount_point, ".ran", NULL);
  g_auto(GStrv) envp = g_get_environ ();

  g_assert_no_error (error);
  g_assert_cmpint (g_mkdir (mount_point, 0700), ==, 0);
  envp = g_environ_setenv (envp, "KESTREL_TEST_TMPFS", mount_point, TRUE);
  g_test_trap_subprocess_with_envp ("/download/disk-full/child", (const char * const *) envp,
                                    30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
  if (!g_file_test (marker, G_FILE_TEST_EXISTS))
    g_test_skip ("cannot mount a private tmpfs here (no user namespaces)");
  g_unlink (marker);
  g_rmdir (mount_point);
  g_rmdir (base);
}

int
main (int   argc,
      char *argv[])
{
  int status;

  maybe_enter_tmpfs ();
  isolate_from_host_proxy ();
  g_test_init (&argc, &argv, NULL);

  hub = test_hub_new ();
  g_test_add_func ("/download/disk-full", test_disk_full);
  g_test_add_func ("/download/disk-full/child", test_disk_full_child);
  status = g_test_run ();
  test_hub_free (hub);
  return status;
}
