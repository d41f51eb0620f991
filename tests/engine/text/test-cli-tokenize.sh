#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# kestrel-cli tokenize / detokenize on the fixture's cases.ref (TAP).
# Usage: test-cli-tokenize.sh KESTREL_CLI   (KESTREL_SHARED_DIR locates the fixture)
cli="$1"
fixture="${KESTREL_SHARED_DIR:-}/tokenizer-fixture"
echo "TAP version 13"
echo "1..5"
if [ ! -f "$fixture/cases.ref" ]; then
  for i in 1 2 3 4 5; do echo "ok $i # SKIP no tokenizer fixture"; done
  exit 0
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
grep '^T' "$fixture/cases.ref" | cut -c3- > "$tmp/text"
grep '^I' "$fixture/cases.ref" | cut -c3- > "$tmp/ids"
grep '^D' "$fixture/cases.ref" | cut -c3- > "$tmp/decoded"

if "$cli" tokenize --model "$fixture" --escaped-lines < "$tmp/text" > "$tmp/out" &&
   cmp -s "$tmp/out" "$tmp/ids"; then
  echo "ok 1 tokenize --escaped-lines gives the ids of every case"
else
  echo "not ok 1 tokenize --escaped-lines gives the ids of every case"
fi
if "$cli" detokenize --tokenizer "$fixture/tokenizer.json" --escaped-lines < "$tmp/ids" > "$tmp/out" &&
   cmp -s "$tmp/out" "$tmp/decoded"; then
  echo "ok 2 detokenize --escaped-lines gives the text of every case"
else
  echo "not ok 2 detokenize --escaped-lines gives the text of every case"
fi
# whole stdin as one text, round trip (the text has no byte-fallback surprises)
printf 'Hello, world!\nSecond line\twith a tab.' > "$tmp/one"
if "$cli" tokenize --tokenizer "$fixture/tokenizer.json" < "$tmp/one" > "$tmp/one.ids" &&
   "$cli" detokenize --tokenizer "$fixture/tokenizer.json" < "$tmp/one.ids" > "$tmp/one.out" &&
   cmp -s "$tmp/one" "$tmp/one.out"; then
  echo "ok 3 whole-stdin round trip"
else
  echo "not ok 3 whole-stdin round trip"
fi
# invalid UTF-8: exit status 1 and a message naming the byte
printf 'ab\377c' > "$tmp/bad"
"$cli" tokenize --tokenizer "$fixture/tokenizer.json" < "$tmp/bad" > /dev/null 2> "$tmp/err"
status=$?
if [ "$status" -eq 1 ] && grep -q "not valid UTF-8 (at byte 2)" "$tmp/err"; then
  echo "ok 4 invalid UTF-8 is a clear error"
else
  echo "not ok 4 invalid UTF-8 is a clear error (status $status)"
fi
# usage errors
"$cli" tokenize > /dev/null 2>&1 < /dev/null
status=$?
if [ "$status" -eq 2 ]; then
  echo "ok 5 tokenize without a tokenizer is a usage error"
else
  echo "not ok 5 tokenize without a tokenizer is a usage error (status $status)"
fi
