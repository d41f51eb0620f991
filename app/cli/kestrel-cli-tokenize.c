/* kestrel-cli-tokenize.c — `kestrel-cli tokenize` (text → ids) and `kestrel-cli detokenize`
 * (ids → text).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * With --escaped-lines each stdin line is one case, written with the escapes \n \r \t \\
 * (the format of the tokenizer fixture's cases.ref), and each case gives one stdout line.
 * Without it, all of stdin is one text (tokenize) or one id sequence (detokenize).
 * Text that is not valid UTF-8 is refused with the line and byte offset; nothing is
 * replaced silently.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kestrel-cli.h"

typedef struct {
  const char *tokenizer_path;
  const char *model_dir;
  bool escaped_lines;
  bool skip_special;
} tok_options;

static void
tokenize_usage (FILE *out, const char *cmd)
{
  fprintf (out,
           "Usage: kestrel-cli %s (--tokenizer FILE | --model DIR) [--escaped-lines]%s\n\n"
           "%s\n\n"
           "  --tokenizer FILE   a Hugging Face tokenizer.json\n"
           "  --model DIR        a model folder (its tokenizer.json)\n"
           "  --escaped-lines    one case per line, text written with \\n \\r \\t \\\\\n"
           "%s",
           cmd, strcmp (cmd, "detokenize") == 0 ? " [--skip-special]" : "",
           strcmp (cmd, "detokenize") == 0
             ? "Reads token ids (decimal, separated by spaces) on stdin and writes the text."
             : "Reads UTF-8 text on stdin and writes its token ids, separated by spaces\n"
               "(HF tokenizers encode(text, add_special_tokens=False)).",
           strcmp (cmd, "detokenize") == 0
             ? "  --skip-special     drop special tokens (skip_special_tokens=True)\n" : "");
}

/* 0 = ok, 1 = --help printed, 2 = usage error (already reported) */
static int
parse_options (int argc, char **argv, tok_options *opt)
{
  const char *cmd = argv[0];
  memset (opt, 0, sizeof *opt);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp (a, "--help") == 0 || strcmp (a, "-h") == 0) {
      tokenize_usage (stdout, cmd);
      return 1;
    } else if (strcmp (a, "--tokenizer") == 0 && i + 1 < argc) {
      opt->tokenizer_path = argv[++i];
    } else if (strcmp (a, "--model") == 0 && i + 1 < argc) {
      opt->model_dir = argv[++i];
    } else if (strcmp (a, "--escaped-lines") == 0) {
      opt->escaped_lines = true;
    } else if (strcmp (a, "--skip-special") == 0 && strcmp (cmd, "detokenize") == 0) {
      opt->skip_special = true;
    } else {
      return kcli_usage_error (cmd, "unexpected argument '%s'", a);
    }
  }
  if ((opt->tokenizer_path == NULL) == (opt->model_dir == NULL))
    return kcli_usage_error (cmd, "give exactly one of --tokenizer FILE or --model DIR");
  return 0;
}

static ke_tokenizer *
open_tokenizer (const tok_options *opt, ke_error **error)
{
  return opt->tokenizer_path ? ke_tokenizer_new_from_file (opt->tokenizer_path, error)
                             : ke_tokenizer_new_from_dir (opt->model_dir, error);
}

static char *
read_stdin (size_t *len)
{
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc (cap);
  while (buf != NULL) {
    if (n == cap) {
      char *b = cap < SIZE_MAX / 2 ? realloc (buf, cap * 2) : NULL;
      if (b == NULL) {
        free (buf);
        return NULL;
      }
      buf = b;
      cap *= 2;
    }
    size_t got = fread (buf + n, 1, cap - n, stdin);
    n += got;
    if (got == 0)
      break;
  }
  if (buf == NULL || ferror (stdin)) {
    free (buf);
    return NULL;
  }
  *len = n;
  return buf;
}

/* Unescapes s[0..len) in place; false on an unknown escape. */
static bool
unescape (char *s, size_t *len)
{
  size_t o = 0;
  for (size_t i = 0; i < *len; i++) {
    if (s[i] != '\\') {
      s[o++] = s[i];
      continue;
    }
    if (++i == *len)
      return false;
    switch (s[i]) {
    case 'n': s[o++] = '\n'; break;
    case 'r': s[o++] = '\r'; break;
    case 't': s[o++] = '\t'; break;
    case '\\': s[o++] = '\\'; break;
    default: return false;
    }
  }
  *len = o;
  return true;
}

static void
write_escaped (const char *s, size_t len)
{
  for (size_t i = 0; i < len; i++) {
    switch (s[i]) {
    case '\n': fputs ("\\n", stdout); break;
    case '\r': fputs ("\\r", stdout); break;
    case '\t': fputs ("\\t", stdout); break;
    case '\\': fputs ("\\\\", stdout); break;
    default: putchar (s[i]); break;
    }
  }
}

/* Iterates stdin's cases: lines (escaped mode) or the whole input. */
typedef struct {
  char *data;
  size_t len, pos;
  bool lines, done;
  size_t line_no;
} case_reader;

static bool
next_case (case_reader *r, char **s, size_t *len)
{
  if (r->done)
    return false;
  if (!r->lines) {
    r->done = true;
    *s = r->data;
    *len = r->len;
    return true;
  }
  if (r->pos >= r->len) {
    r->done = true;
    return false;
  }
  char *start = r->data + r->pos;
  char *nl = memchr (start, '\n', r->len - r->pos);
  *s = start;
  *len = nl ? (size_t) (nl - start) : r->len - r->pos;
  r->pos += *len + 1;
  r->line_no++;
  return true;
}

int
kcli_tokenize (int argc, char **argv)
{
  tok_options opt;
  int r = parse_options (argc, argv, &opt);
  if (r != 0)
    return r == 1 ? 0 : r;
  ke_error *error = NULL;
  ke_tokenizer *tok = open_tokenizer (&opt, &error);
  if (tok == NULL)
    return kcli_fail ("tokenize", error);
  case_reader rd = { .lines = opt.escaped_lines };
  rd.data = read_stdin (&rd.len);
  if (rd.data == NULL) {
    ke_tokenizer_free (tok);
    fprintf (stderr, "kestrel-cli tokenize: cannot read stdin\n");
    return 1;
  }
  int status = 0;
  char *text;
  size_t len;
  while (status == 0 && next_case (&rd, &text, &len)) {
    if (opt.escaped_lines && !unescape (text, &len)) {
      fprintf (stderr, "kestrel-cli tokenize: line %zu: unknown escape (only \\n \\r \\t \\\\)\n",
               rd.line_no);
      status = 1;
      break;
    }
    ke_token *ids = NULL;
    size_t n = 0;
    if (!ke_tokenizer_encode (tok, text, len, &ids, &n, &error)) {
      /* invalid UTF-8 is refused here, with its byte offset */
      if (opt.escaped_lines) {
        fprintf (stderr, "kestrel-cli tokenize: line %zu: %s\n", rd.line_no, error->message);
        ke_error_free (error);
        status = 1;
      } else {
        status = kcli_fail ("tokenize", error);
      }
      break;
    }
    for (size_t i = 0; i < n; i++)
      printf (i ? " %d" : "%d", ids[i]);
    putchar ('\n');
    free (ids);
  }
  free (rd.data);
  ke_tokenizer_free (tok);
  if (fflush (stdout) != 0 && status == 0) {
    fprintf (stderr, "kestrel-cli tokenize: cannot write stdout\n");
    status = 1;
  }
  return status;
}

/* Parses decimal ids separated by blanks; false (with *bad set) on anything else. */
static bool
parse_ids (const char *s, size_t len, ke_token **ids, size_t *n, const char **bad)
{
  size_t cap = 16, count = 0;
  ke_token *out = malloc (cap * sizeof *out);
  size_t i = 0;
  while (out != NULL && i < len) {
    if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
      i++;
      continue;
    }
    long long v = 0;
    size_t start = i;
    while (i < len && s[i] >= '0' && s[i] <= '9' && v <= INT32_MAX)
      v = v * 10 + (s[i++] - '0');
    if (i == start || v > INT32_MAX ||
        (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')) {
      *bad = s + start;
      free (out);
      return false;
    }
    if (count == cap) {
      ke_token *o = realloc (out, cap * 2 * sizeof *o);
      if (o == NULL)
        break;
      out = o;
      cap *= 2;
    }
    out[count++] = (ke_token) v;
  }
  if (out == NULL || i < len) {
    free (out);
    *bad = NULL;
    return false;
  }
  *ids = out;
  *n = count;
  return true;
}

int
kcli_detokenize (int argc, char **argv)
{
  tok_options opt;
  int r = parse_options (argc, argv, &opt);
  if (r != 0)
    return r == 1 ? 0 : r;
  ke_error *error = NULL;
  ke_tokenizer *tok = open_tokenizer (&opt, &error);
  if (tok == NULL)
    return kcli_fail ("detokenize", error);
  case_reader rd = { .lines = opt.escaped_lines };
  rd.data = read_stdin (&rd.len);
  if (rd.data == NULL) {
    ke_tokenizer_free (tok);
    fprintf (stderr, "kestrel-cli detokenize: cannot read stdin\n");
    return 1;
  }
  int status = 0;
  char *line;
  size_t len;
  while (status == 0 && next_case (&rd, &line, &len)) {
    ke_token *ids = NULL;
    size_t n = 0;
    const char *bad = NULL;
    if (!parse_ids (line, len, &ids, &n, &bad)) {
      if (bad) {
        size_t w = 0, left = (size_t) (line + len - bad);
        while (w < left && w < 20 && bad[w] != ' ' && bad[w] != '\t' && bad[w] != '\n' &&
               bad[w] != '\r')
          w++;
        fprintf (stderr, "kestrel-cli detokenize: %s%zu: not a token id: '%.*s'\n",
                 opt.escaped_lines ? "line " : "byte ",
                 opt.escaped_lines ? rd.line_no : (size_t) (bad - rd.data), (int) w, bad);
      }
      else
        fprintf (stderr, "kestrel-cli detokenize: out of memory\n");
      status = 1;
      break;
    }
    size_t text_len = 0;
    char *text = ke_tokenizer_decode (tok, ids, n, opt.skip_special ? KE_DECODE_SKIP_SPECIAL : 0,
                                      &text_len, &error);
    free (ids);
    if (text == NULL) {
      status = kcli_fail ("detokenize", error);
      break;
    }
    if (opt.escaped_lines) {
      write_escaped (text, text_len);
      putchar ('\n');
    } else {
      fwrite (text, 1, text_len, stdout);
    }
    free (text);
  }
  free (rd.data);
  ke_tokenizer_free (tok);
  if (fflush (stdout) != 0 && status == 0) {
    fprintf (stderr, "kestrel-cli detokenize: cannot write stdout\n");
    status = 1;
  }
  return status;
}
