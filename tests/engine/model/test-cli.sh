#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# kestrel-cli gen-checkpoint + inspect end to end (TAP): exit statuses and one clear message.
# Usage: test-cli.sh PATH/TO/kestrel-cli
set -u
cli="$1"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ke-cli-test-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0
fail=0
check () { # description, then a command that must succeed
  n=$((n + 1))
  desc="$1"
  shift
  if "$@"; then echo "ok $n $desc"; else echo "not ok $n $desc"; fail=1; fi
}
echo "1..8"
check "gen-checkpoint tiny fp8 sharded" "$cli" gen-checkpoint "$tmp/a" --shape tiny --shards 2 --layout 4.52 --seed 3 --quiet
check "inspect succeeds" sh -c "'$cli' inspect '$tmp/a' --timing > '$tmp/out' 2>&1"
check "inspect names the layout and scheme" sh -c "grep -q 'transformers 4.52-4.57' '$tmp/out' && grep -q 'fp8-dynamic' '$tmp/out' && grep -q 'Load time' '$tmp/out'"
check "gen-checkpoint bf16 tiny-text" "$cli" gen-checkpoint "$tmp/b" --shape tiny-text --format bf16 --quiet
check "inspect bf16 quantizes at load" sh -c "'$cli' inspect '$tmp/b' | grep -q 'quantized at load'"
printf '\x01\x00\x00\x00\x00\x00\x00\x00{' > "$tmp/a/model-00002-of-00002.safetensors"
check "inspect of a corrupt shard fails with status 1" sh -c "'$cli' inspect '$tmp/a' > '$tmp/out2' 2> '$tmp/err'; test \$? -eq 1"
check "one message naming the shard" sh -c "test \$(wc -l < '$tmp/err') -eq 1 && grep -q 'model-00002-of-00002.safetensors' '$tmp/err' && test ! -s '$tmp/out2'"
check "usage error has status 2" sh -c "'$cli' gen-checkpoint '$tmp/c' --format fp4 2> /dev/null; test \$? -eq 2"
exit $fail
