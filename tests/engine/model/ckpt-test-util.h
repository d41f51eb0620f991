/* ckpt-test-util.h — generating checkpoints into temporary folders and corrupting them,
 * for the loader tests; tiny_checkpoint_in_tmp() for every engine test that opens a model
 * from files.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yyjson.h>

#include "ke-checkpoint-writer.h"
#include "ke-internal.h"
#include "ke-safetensors.h"

static inline char *
tmp_dir (void)
{
  const char *base = getenv ("TMPDIR");
  char *templ = ke_strdup_printf ("%s/ke-model-test-XXXXXX", base ? base : "/tmp");
  if (templ && mkdtemp (templ) == NULL) {
    free (templ);
    return NULL;
  }
  return templ;
}

/* Removes a flat folder and its files. */
static inline void
rm_dir (const char *dir)
{
  DIR *d = opendir (dir);
  if (d == NULL)
    return;
  struct dirent *e;
  while ((e = readdir (d)) != NULL) {
    if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
      continue;
    char *p = ke_path_join (dir, e->d_name);
    if (p)
      unlink (p);
    free (p);
  }
  closedir (d);
  rmdir (dir);
}

static inline bool
gen (const char *dir, const char *shape, ke_gen_format format, ke_name_layout layout,
     uint32_t shards, uint64_t seed, ke_error **error)
{
  ke_gen_options o;
  ke_gen_options_init (&o);
  o.shape = shape;
  o.format = format;
  o.layout = layout;
  o.n_shards = shards;
  o.seed = seed;
  o.n_threads = 2;
  return ke_gen_checkpoint (dir, &o, NULL, NULL, error);
}

/* A tiny generated checkpoint (seeded, so the same every run) in a new temporary folder
 * for a test program's models; NULL after a TAP "Bail out!" line.  rm_dir() and free() it. */
static inline char *
tiny_checkpoint_in_tmp (uint64_t seed)
{
  char *dir = tmp_dir ();
  if (dir == NULL) {
    printf ("Bail out! cannot create a temporary folder\n");
    return NULL;
  }
  ke_gen_options g;
  ke_gen_options_init (&g);
  g.shape = "tiny";
  g.seed = seed;
  g.n_threads = 2;
  ke_error *error = NULL;
  if (!ke_gen_checkpoint (dir, &g, NULL, NULL, &error)) {
    printf ("Bail out! gen-checkpoint: %s\n", error->message);
    ke_error_free (error);
    rm_dir (dir);
    free (dir);
    return NULL;
  }
  return dir;
}

static inline bool
write_all (const char *path, const void *data, size_t len)
{
  FILE *f = fopen (path, "wb");
  if (f == NULL)
    return false;
  bool ok = fwrite (data, 1, len, f) == len;
  return fclose (f) == 0 && ok;
}

static inline char *
read_all (const char *path, size_t *len)
{
  char *data = NULL;
  ke_error *error = NULL;
  if (!ke_read_file (path, 1u << 30, &data, len, &error))
    ke_error_free (error);
  return data;
}

/* dir/name, in a static buffer (tests are single-threaded). */
static inline const char *
in_dir (const char *dir, const char *name)
{
  static char buf[4096];
  size_t dl = strlen (dir), nl = strlen (name);
  if (dl + nl + 2 > sizeof buf)
    return "";
  memcpy (buf, dir, dl);
  buf[dl] = '/';
  memcpy (buf + dl + 1, name, nl + 1);
  return buf;
}

/* Replaces the first occurrence of `from` in a text file; false when absent. */
static inline bool
replace_in_file (const char *path, const char *from, const char *to)
{
  size_t len;
  char *text = read_all (path, &len);
  if (text == NULL)
    return false;
  char *at = strstr (text, from);
  bool ok = false;
  if (at) {
    size_t pre = (size_t) (at - text), fl = strlen (from), tl = strlen (to);
    char *out = malloc (len - fl + tl + 1);
    memcpy (out, text, pre);
    memcpy (out + pre, to, tl);
    memcpy (out + pre + tl, at + fl, len - pre - fl);
    ok = write_all (path, out, len - fl + tl);
    free (out);
  }
  free (text);
  return ok;
}

static inline bool
patch_file (const char *path, size_t offset, const void *bytes, size_t n)
{
  FILE *f = fopen (path, "r+b");
  if (f == NULL)
    return false;
  bool ok = fseek (f, (long) offset, SEEK_SET) == 0 && fwrite (bytes, 1, n, f) == n;
  return fclose (f) == 0 && ok;
}

/* Offset in the file of a tensor's data (or (size_t) -1). */
static inline size_t
tensor_offset (const char *path, const char *name)
{
  ke_st_file f;
  ke_error *error = NULL;
  size_t off = (size_t) -1;
  if (ke_st_open (path, &f, &error)) {
    const ke_st_tensor *t = ke_st_find (&f, name);
    if (t)
      off = (size_t) t->offset;
  }
  ke_error_free (error);
  ke_st_close (&f);
  return off;
}

typedef void (*header_edit_fn) (yyjson_mut_doc *doc, yyjson_mut_val *root, size_t data_len,
                                void *user_data);

/* Rewrites a safetensors file's header through `edit` (NULL: unchanged); the data stays,
 * `extra` zero bytes are appended after it, and `misalign` more spaces pad the header (so
 * that the data start is no longer a multiple of 8). */
static inline bool
rewrite_header_ex (const char *path, header_edit_fn edit, void *user_data, size_t extra,
                   size_t misalign)
{
  size_t len;
  char *file = read_all (path, &len);
  if (file == NULL || len < 8)
    return false;
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--)
    hlen = (hlen << 8) | (uint8_t) file[i];
  yyjson_doc *doc = yyjson_read (file + 8, (size_t) hlen, 0);
  yyjson_mut_doc *mdoc = yyjson_doc_mut_copy (doc, NULL);
  yyjson_doc_free (doc);
  size_t data_len = len - 8 - (size_t) hlen;
  if (edit)
    edit (mdoc, yyjson_mut_doc_get_root (mdoc), data_len, user_data);
  size_t nh = 0;
  char *h = yyjson_mut_write (mdoc, 0, &nh);
  yyjson_mut_doc_free (mdoc);
  size_t padded = ((nh + 7) & ~(size_t) 7) + misalign;
  size_t out_len = 8 + padded + data_len + extra;
  char *out = calloc (1, out_len);
  for (int i = 0; i < 8; i++)
    out[i] = (char) ((uint64_t) padded >> (8 * i));
  memcpy (out + 8, h, nh);
  memset (out + 8 + nh, ' ', padded - nh);
  memcpy (out + 8 + padded, file + 8 + hlen, data_len);
  bool ok = write_all (path, out, out_len);
  free (out);
  free (h);
  free (file);
  return ok;
}

static inline bool
rewrite_header (const char *path, header_edit_fn edit, void *user_data, size_t extra)
{
  return rewrite_header_ex (path, edit, user_data, extra, 0);
}

/* Copies a flat folder. */
static inline bool
copy_dir (const char *src, const char *dst)
{
  DIR *d = opendir (src);
  if (d == NULL)
    return false;
  bool ok = mkdir (dst, 0755) == 0 || errno == EEXIST;
  struct dirent *e;
  while (ok && (e = readdir (d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char *s = ke_path_join (src, e->d_name), *t = ke_path_join (dst, e->d_name);
    size_t len;
    char *data = read_all (s, &len);
    ok = data && write_all (t, data, len);
    free (data);
    free (s);
    free (t);
  }
  closedir (d);
  return ok;
}
