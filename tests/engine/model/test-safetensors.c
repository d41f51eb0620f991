/* test-safetensors.c — the safetensors header parser on valid and corrupt files.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ke-safetensors.h"
#include "ke-tap.h"

/* A file: u64 length, header (padded with spaces to 8), data_size bytes of data. */
static uint8_t *
make_file (const char *header, size_t data_size, size_t *size)
{
  size_t hlen = strlen (header);
  size_t padded = (hlen + 7) & ~(size_t) 7;
  *size = 8 + padded + data_size;
  uint8_t *buf = malloc (*size);
  for (int i = 0; i < 8; i++)
    buf[i] = (uint8_t) ((uint64_t) padded >> (8 * i));
  memcpy (buf + 8, header, hlen);
  memset (buf + 8 + hlen, ' ', padded - hlen);
  for (size_t i = 0; i < data_size; i++)
    buf[8 + padded + i] = (uint8_t) i;
  return buf;
}

static bool
parse_header (const char *header, size_t data_size, ke_error **error)
{
  size_t size;
  uint8_t *buf = make_file (header, data_size, &size);
  ke_st_file f;
  memset (&f, 0, sizeof f);
  bool ok = ke_st_parse (buf, size, "x.safetensors", &f, error);
  ke_st_close (&f);
  free (buf);
  return ok;
}

KE_TEST (test_valid)
{
  const char *h = "{\"__metadata__\":{\"format\":\"pt\"},"
                  "\"b.weight\":{\"dtype\":\"F8_E4M3\",\"shape\":[4,2],\"data_offsets\":[24,32]},"
                  "\"a.weight\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
                  "\"a.scale\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[12,24]},"
                  "\"e\":{\"dtype\":\"F16\",\"shape\":[0,7],\"data_offsets\":[32,32]},"
                  "\"i\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[32,40]}}";
  size_t size;
  uint8_t *buf = make_file (h, 40, &size);
  ke_st_file f;
  memset (&f, 0, sizeof f);
  ke_error *error = NULL;
  {
    bool ok_ = ke_st_parse (buf, size, "x.safetensors", &f, &error);
    KE_REQUIRE (ok_, "%s", error->message);
  }
  KE_CHECK (f.n_tensors == 5, "%zu tensors", f.n_tensors);
  KE_CHECK (f.format && strcmp (f.format, "pt") == 0, "format");
  const ke_st_tensor *a = ke_st_find (&f, "a.weight");
  KE_REQUIRE (a != NULL, "a.weight");
  KE_CHECK (a->dtype_known && a->dtype == KE_DTYPE_BF16 && a->ndim == 2 && a->shape[0] == 2 &&
            a->shape[1] == 3 && a->nbytes == 12 && a->data == buf + f.data_start, "a.weight fields");
  const ke_st_tensor *b = ke_st_find (&f, "b.weight");
  KE_CHECK (b && b->dtype == KE_DTYPE_F8_E4M3 && b->data[0] == 24, "b data");
  const ke_st_tensor *i = ke_st_find (&f, "i");
  KE_CHECK (i && !i->dtype_known && strcmp (i->dtype_name, "I64") == 0 && i->ndim == 0 &&
            i->nbytes == 8, "scalar I64");
  KE_CHECK (ke_st_find (&f, "missing") == NULL, "absent");
  ke_st_close (&f);
  free (buf);
}

static const struct {
  const char *header;
  size_t data;
  const char *needle;
} bad[] = {
  /* byte count vs shape × dtype */
  { "{\"a\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,10]}}", 10, "needs 12" },
  /* out of range (the data is shorter: a truncated file) */
  { "{\"a\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,12]}}", 8, "outside" },
  { "{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[18446744073709551612,18446744073709551616]}}", 8, "data_offsets" },
  { "{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,0]}}", 8, "outside" },
  /* overlap and holes */
  { "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}", 6, "overlaps" },
  { "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4, "overlaps" },
  { "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}", 6, "unindexed" },
  { "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 9, "not indexed" },
  /* shapes */
  { "{\"a\":{\"dtype\":\"BF16\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,8]}}", 8, "overflows" },
  { "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}", 8, "overflows" },
  { "{\"a\":{\"dtype\":\"BF16\",\"shape\":[-1],\"data_offsets\":[0,2]}}", 2, "shape[0]" },
  { "{\"a\":{\"dtype\":\"BF16\",\"shape\":[1.5],\"data_offsets\":[0,2]}}", 2, "shape[0]" },
  { "{\"a\":{\"dtype\":\"BF16\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,2]}}", 2, "dimensions" },
  { "{\"a\":{\"dtype\":\"BF16\",\"shape\":\"2\",\"data_offsets\":[0,4]}}", 4, "needs exactly" },
  /* dtypes, names, structure */
  { "{\"a\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1]}}", 1, "unknown dtype" },
  { "{\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]},\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[2,4]}}", 4, "twice" },
  { "{\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2],\"extra\":1}}", 2, "needs exactly" },
  { "{\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0]}}", 2, "data_offsets" },
  { "{\"a\":[1,2]}", 0, "not an object" },
  { "{\"\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2, "name" },
  { "{\"a\\u0000b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2, "name" },
  { "{\"__metadata__\":{\"format\":1}}", 0, "__metadata__" },
  { "{\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}", 2, "invalid JSON" },
  { "{\"a\":{\"dtype\":\"BF\xff\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2, "UTF-8" },
};

KE_TEST (test_bad_headers)
{
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ke_error *error = NULL;
    bool ok = parse_header (bad[i].header, bad[i].data, &error);
    KE_CHECK (!ok, "case %zu accepted", i);
    KE_CHECK (error && strstr (error->message, bad[i].needle) &&
              strstr (error->message, "x.safetensors"),
              "case %zu: '%s' lacks '%s' or the file name", i, error ? error->message : "(none)",
              bad[i].needle);
    ke_error_free (error);
  }
}

KE_TEST (test_bad_lengths)
{
  const char *h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}";
  size_t size;
  uint8_t *buf = make_file (h, 4, &size);
  ke_st_file f;
  ke_error *error = NULL;
  /* Truncated at every length: never accepted, never out of bounds. */
  for (size_t n = 0; n < size; n++) {
    uint8_t *cut = malloc (n ? n : 1);
    memcpy (cut, buf, n);
    memset (&f, 0, sizeof f);
    KE_CHECK (!ke_st_parse (cut, n, "x.safetensors", &f, &error), "accepted at %zu bytes", n);
    KE_CHECK (error != NULL, "no error at %zu", n);
    ke_error_free (error);
    error = NULL;
    ke_st_close (&f);
    free (cut);
  }
  /* Header length past the end of the file, huge, and zero. */
  const uint64_t lens[] = { size - 7, UINT64_MAX, (uint64_t) 1 << 40, 0 };
  const char *needles[] = { "past the end", "limit", "limit", "past the end" };
  for (size_t k = 0; k < 4; k++) {
    for (int i = 0; i < 8; i++)
      buf[i] = (uint8_t) (lens[k] >> (8 * i));
    memset (&f, 0, sizeof f);
    KE_CHECK (!ke_st_parse (buf, size, "x.safetensors", &f, &error), "length %zu accepted", k);
    KE_CHECK (error && strstr (error->message, needles[k]), "length %zu: %s", k,
              error ? error->message : "");
    ke_error_free (error);
    error = NULL;
    ke_st_close (&f);
  }
  free (buf);
}

KE_TEST (test_deep_header)
{
  size_t depth = 5000;
  char *h = malloc (2 * depth + 16);
  size_t n = 0;
  h[n++] = '{';
  h[n++] = '"';
  h[n++] = 'a';
  h[n++] = '"';
  h[n++] = ':';
  for (size_t i = 0; i < depth; i++)
    h[n++] = '[';
  for (size_t i = 0; i < depth; i++)
    h[n++] = ']';
  h[n++] = '}';
  h[n] = '\0';
  ke_error *error = NULL;
  KE_CHECK (!parse_header (h, 0, &error), "accepted");
  KE_CHECK (error && strstr (error->message, "nested"), "%s", error ? error->message : "");
  ke_error_free (error);
  free (h);
}

KE_TEST (test_open_errors)
{
  ke_st_file f;
  ke_error *error = NULL;
  KE_CHECK (!ke_st_open ("/nonexistent/model.safetensors", &f, &error), "opened");
  KE_CHECK (error && error->code == KE_ERROR_IO && strstr (error->message, "/nonexistent"), "io error");
  ke_error_free (error);
  ke_st_close (&f);
}

KE_TAP_MAIN (KE_TAP_ENTRY (test_valid), KE_TAP_ENTRY (test_bad_headers),
             KE_TAP_ENTRY (test_bad_lengths), KE_TAP_ENTRY (test_deep_header),
             KE_TAP_ENTRY (test_open_errors))
