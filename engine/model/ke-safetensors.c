/* ke-safetensors.c — safetensors header parsing and validation, mmap.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ke-json.h"
#include "ke-safetensors.h"

typedef struct {
  const char *name;
  size_t size;
  bool known;
  ke_dtype dtype;
} dtype_info;

/* Every dtype the safetensors format defines, so that an unexpected but valid one is
 * reported by name for the tensor that has it rather than as a corrupt header. */
static const dtype_info dtypes[] = {
  { "F32", 4, true, KE_DTYPE_F32 },
  { "F16", 2, true, KE_DTYPE_F16 },
  { "BF16", 2, true, KE_DTYPE_BF16 },
  { "F8_E4M3", 1, true, KE_DTYPE_F8_E4M3 },
  { "F8_E5M2", 1, false, 0 },
  { "F64", 8, false, 0 },
  { "I64", 8, false, 0 },
  { "U64", 8, false, 0 },
  { "I32", 4, false, 0 },
  { "U32", 4, false, 0 },
  { "I16", 2, false, 0 },
  { "U16", 2, false, 0 },
  { "I8", 1, false, 0 },
  { "U8", 1, false, 0 },
  { "BOOL", 1, false, 0 },
};

size_t
ke_dtype_size (ke_dtype dtype)
{
  switch (dtype) {
  case KE_DTYPE_F32: return 4;
  case KE_DTYPE_F16: return 2;
  case KE_DTYPE_BF16: return 2;
  case KE_DTYPE_F8_E4M3: return 1;
  default: return 0;
  }
}

const char *
ke_dtype_name (ke_dtype dtype)
{
  switch (dtype) {
  case KE_DTYPE_F32: return "F32";
  case KE_DTYPE_F16: return "F16";
  case KE_DTYPE_BF16: return "BF16";
  case KE_DTYPE_F8_E4M3: return "F8_E4M3";
  default: return "?";
  }
}

static int
cmp_tensor_name (const void *a, const void *b)
{
  return strcmp (((const ke_st_tensor *) a)->name, ((const ke_st_tensor *) b)->name);
}

static int
cmp_tensor_offset (const void *a, const void *b)
{
  const ke_st_tensor *x = *(const ke_st_tensor *const *) a;
  const ke_st_tensor *y = *(const ke_st_tensor *const *) b;
  if (x->offset != y->offset)
    return x->offset < y->offset ? -1 : 1;
  return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

static bool
parse_tensor (yyjson_val *key, yyjson_val *val, const char *what, const uint8_t *bytes,
              size_t data_start, size_t data_size, ke_st_tensor *t, ke_error **error)
{
  const char *name = yyjson_get_str (key);
  size_t name_len = yyjson_get_len (key);
  if (name_len == 0 || memchr (name, '\0', name_len) != NULL)
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: a tensor has an empty or invalid name", what);
  t->name = ke_strndup (name, name_len);
  if (t->name == NULL)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
  if (!yyjson_is_obj (val))
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: tensor %s: entry is not an object", what, t->name);

  yyjson_val *dt = yyjson_obj_get (val, "dtype");
  yyjson_val *shape = yyjson_obj_get (val, "shape");
  yyjson_val *offs = yyjson_obj_get (val, "data_offsets");
  if (!yyjson_is_str (dt) || !yyjson_is_arr (shape) || !yyjson_is_arr (offs) ||
      yyjson_obj_size (val) != 3)
    return ke_set_error (error, KE_ERROR_FORMAT,
                         "%s: tensor %s: needs exactly \"dtype\", \"shape\" and \"data_offsets\"",
                         what, t->name);
  const dtype_info *info = NULL;
  for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
    if (strcmp (yyjson_get_str (dt), dtypes[i].name) == 0)
      info = &dtypes[i];
  if (info == NULL)
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: tensor %s: unknown dtype \"%.32s\"", what,
                         t->name, yyjson_get_str (dt));
  t->dtype_name = info->name;
  t->dtype_known = info->known;
  t->dtype = info->dtype;

  size_t ndim = yyjson_arr_size (shape);
  if (ndim > KE_MAX_DIMS)
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: tensor %s: %zu dimensions (at most %d)",
                         what, t->name, ndim, KE_MAX_DIMS);
  t->ndim = (uint32_t) ndim;
  uint64_t n = 1;
  for (size_t i = 0; i < ndim; i++) {
    yyjson_val *d = yyjson_arr_get (shape, i);
    if (!yyjson_is_uint (d) || yyjson_get_uint (d) > INT64_MAX)
      return ke_set_error (error, KE_ERROR_FORMAT,
                           "%s: tensor %s: shape[%zu] is not a non-negative integer", what,
                           t->name, i);
    t->shape[i] = (int64_t) yyjson_get_uint (d);
    if (!ke_mul_u64 (n, (uint64_t) t->shape[i], &n))
      return ke_set_error (error, KE_ERROR_FORMAT, "%s: tensor %s: shape product overflows",
                           what, t->name);
  }
  t->n_elements = n;
  uint64_t nbytes;
  if (!ke_mul_u64 (n, info->size, &nbytes))
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: tensor %s: byte count overflows", what,
                         t->name);

  if (yyjson_arr_size (offs) != 2 || !yyjson_is_uint (yyjson_arr_get (offs, 0)) ||
      !yyjson_is_uint (yyjson_arr_get (offs, 1)))
    return ke_set_error (error, KE_ERROR_FORMAT,
                         "%s: tensor %s: data_offsets must be two non-negative integers", what,
                         t->name);
  uint64_t begin = yyjson_get_uint (yyjson_arr_get (offs, 0));
  uint64_t end = yyjson_get_uint (yyjson_arr_get (offs, 1));
  if (end < begin || end > data_size)
    return ke_set_error (error, KE_ERROR_FORMAT,
                         "%s: tensor %s: data_offsets [%llu, %llu] outside the %zu data bytes "
                         "(truncated file?)",
                         what, t->name, (unsigned long long) begin, (unsigned long long) end,
                         data_size);
  if (end - begin != nbytes)
    return ke_set_error (error, KE_ERROR_FORMAT,
                         "%s: tensor %s: %llu data bytes but %s %s needs %llu", what, t->name,
                         (unsigned long long) (end - begin), info->name,
                         ndim ? "of this shape" : "scalar", (unsigned long long) nbytes);
  t->offset = data_start + begin;
  t->nbytes = (size_t) nbytes;
  t->data = bytes + t->offset;
  return true;
}

static bool
parse_metadata (yyjson_val *val, const char *what, ke_st_file *file, ke_error **error)
{
  if (!yyjson_is_obj (val))
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: __metadata__ must be an object", what);
  size_t i, n;
  yyjson_val *k, *v;
  yyjson_obj_foreach (val, i, n, k, v) {
    if (!yyjson_is_str (v))
      return ke_set_error (error, KE_ERROR_FORMAT, "%s: __metadata__ values must be strings", what);
    if (strcmp (yyjson_get_str (k), "format") == 0 && file->format == NULL) {
      file->format = ke_strdup (yyjson_get_str (v));
      if (file->format == NULL)
        return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
    }
  }
  return true;
}

/* Sorted by offset, consecutive ranges must touch exactly: no overlap, no hole. */
static bool
check_coverage (ke_st_file *file, const char *what, size_t data_size, ke_error **error)
{
  ke_st_tensor **by_off = ke_malloc_array (file->n_tensors ? file->n_tensors : 1, sizeof *by_off);
  if (by_off == NULL)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
  for (size_t i = 0; i < file->n_tensors; i++)
    by_off[i] = &file->tensors[i];
  qsort (by_off, file->n_tensors, sizeof *by_off, cmp_tensor_offset);
  uint64_t expect = file->data_start;
  bool ok = true;
  for (size_t i = 0; i < file->n_tensors && ok; i++) {
    const ke_st_tensor *t = by_off[i];
    if (t->offset < expect)
      ok = ke_set_error (error, KE_ERROR_FORMAT, "%s: tensor %s overlaps tensor %s", what,
                         t->name, by_off[i - 1]->name);
    else if (t->offset > expect)
      ok = ke_set_error (error, KE_ERROR_FORMAT,
                         "%s: tensor %s: %llu unindexed bytes before its data", what, t->name,
                         (unsigned long long) (t->offset - expect));
    expect = t->offset + t->nbytes;
  }
  if (ok && expect != file->data_start + data_size)
    ok = ke_set_error (error, KE_ERROR_FORMAT,
                       "%s: %llu bytes after the last tensor's data are not indexed", what,
                       (unsigned long long) (file->data_start + data_size - expect));
  free (by_off);
  return ok;
}

bool
ke_st_parse (const uint8_t *bytes, size_t size, const char *what, ke_st_file *file,
             ke_error **error)
{
  yyjson_doc *doc = NULL;
  bool ok = false;
  if (size < 8)
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: %zu bytes, too short for a safetensors file",
                         what, size);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--)
    hlen = (hlen << 8) | bytes[i];
  if (hlen > KE_ST_MAX_HEADER)
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: header length %llu exceeds the %u-byte limit",
                         what, (unsigned long long) hlen, KE_ST_MAX_HEADER);
  if (hlen < 2 || hlen > size - 8)
    return ke_set_error (error, KE_ERROR_FORMAT,
                         "%s: header length %llu runs past the end of the %zu-byte file", what,
                         (unsigned long long) hlen, size);
  file->data_start = 8 + (size_t) hlen;
  size_t data_size = size - file->data_start;
  if (bytes[8] != '{')
    return ke_set_error (error, KE_ERROR_FORMAT, "%s: the header does not start with '{'", what);

  doc = ke_json_parse ((const char *) bytes + 8, (size_t) hlen, what, error);
  if (doc == NULL)
    return false;
  yyjson_val *root = yyjson_doc_get_root (doc);
  if (!yyjson_is_obj (root)) {
    ke_set_error (error, KE_ERROR_FORMAT, "%s: the header is not a JSON object", what);
    goto out;
  }
  file->tensors = ke_calloc_array (yyjson_obj_size (root) + 1, sizeof *file->tensors);
  if (file->tensors == NULL) {
    ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
    goto out;
  }
  size_t i, n;
  yyjson_val *k, *v;
  yyjson_obj_foreach (root, i, n, k, v) {
    if (strcmp (yyjson_get_str (k), "__metadata__") == 0) {
      if (!parse_metadata (v, what, file, error))
        goto out;
      continue;
    }
    ke_st_tensor *t = &file->tensors[file->n_tensors++];
    if (!parse_tensor (k, v, what, bytes, file->data_start, data_size, t, error))
      goto out;
  }
  qsort (file->tensors, file->n_tensors, sizeof *file->tensors, cmp_tensor_name);
  for (size_t j = 1; j < file->n_tensors; j++)
    if (strcmp (file->tensors[j - 1].name, file->tensors[j].name) == 0) {
      ke_set_error (error, KE_ERROR_FORMAT, "%s: tensor %s appears twice", what,
                    file->tensors[j].name);
      goto out;
    }
  ok = check_coverage (file, what, data_size, error);
out:
  yyjson_doc_free (doc);
  return ok;
}

bool
ke_st_open (const char *path, ke_st_file *file, ke_error **error)
{
  memset (file, 0, sizeof *file);
  file->path = ke_strdup (path);
  if (file->path == NULL)
    return ke_set_error (error, KE_ERROR_NO_MEMORY, "Out of memory");
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return ke_set_error (error, KE_ERROR_IO, "Cannot open %s: %s", path, strerror (errno));
  struct stat st;
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)) {
    close (fd);
    return ke_set_error (error, KE_ERROR_IO, "%s is not a regular file", path);
  }
  if ((uint64_t) st.st_size > SIZE_MAX || st.st_size < 8) {
    close (fd);
    return ke_set_error (error, KE_ERROR_FORMAT,
                         "%s: %lld bytes, too short for a safetensors file", path,
                         (long long) st.st_size);
  }
  file->size = (size_t) st.st_size;
  void *map = mmap (NULL, file->size, PROT_READ, MAP_PRIVATE, fd, 0);
  int map_errno = errno;
  close (fd);
  if (map == MAP_FAILED)
    return ke_set_error (error, KE_ERROR_IO, "Cannot map %s: %s", path, strerror (map_errno));
  file->map = map;
  return ke_st_parse (map, file->size, path, file, error);
}

void
ke_st_close (ke_st_file *file)
{
  if (file == NULL)
    return;
  for (size_t i = 0; i < file->n_tensors; i++)
    free (file->tensors[i].name);
  free (file->tensors);
  free (file->format);
  if (file->map)
    munmap (file->map, file->size);
  free (file->path);
  memset (file, 0, sizeof *file);
}

const ke_st_tensor *
ke_st_find (const ke_st_file *file, const char *name)
{
  size_t lo = 0, hi = file->n_tensors;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp (name, file->tensors[mid].name);
    if (c == 0)
      return &file->tensors[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}
