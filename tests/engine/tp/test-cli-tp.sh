#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# kestrel-cli --tp / --gpus (TAP): CPU ranks give the plain path's greedy reply and logits;
# every misuse is a usage error (status 2) or one clear engine error (status 1).
# Usage: test-cli-tp.sh PATH/TO/kestrel-cli
set -u
cli="$1"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ke-cli-tp-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0
fail=0
check () { # description, then a command that must succeed
  n=$((n + 1))
  desc="$1"
  shift
  if "$@"; then echo "ok $n $desc"; else echo "not ok $n $desc"; fail=1; fi
}
status_is () { # expected status, then the command (stderr kept in $tmp/err)
  want="$1"
  shift
  "$@" > /dev/null 2> "$tmp/err"
  got=$?
  if [ "$got" -ne "$want" ]; then
    echo "# status $got, wanted $want: $(cat "$tmp/err")"
    return 1
  fi
  sed 's/^/# /' "$tmp/err"
  return 0
}
echo "1..13"
m="$tmp/tiny"
common="--model $m --backend cpu --threads 2 --skip-act-quant --raw --prompt 'The quick brown fox'"
check "gen-checkpoint tiny" "$cli" gen-checkpoint "$m" --shape tiny --seed 5 --quiet
check "generate plain" sh -c "'$cli' generate $common --temperature 0 --max-tokens 32 --quiet > '$tmp/plain.txt' 2> /dev/null"
check "generate --tp 2" sh -c "'$cli' generate $common --tp 2 --temperature 0 --max-tokens 32 --quiet > '$tmp/tp2.txt' 2> /dev/null"
check "same greedy reply" sh -c "test -s '$tmp/plain.txt' && cmp -s '$tmp/plain.txt' '$tmp/tp2.txt'"
check "logits plain and --tp 2" sh -c "'$cli' logits $common --all-positions --out '$tmp/plain.f32' --quiet 2> /dev/null && '$cli' logits $common --all-positions --tp 2 --out '$tmp/tp2.f32' --quiet 2> /dev/null"
check "logits agree to float rounding" python3 -c "
import struct, sys
a = open(sys.argv[1], 'rb').read(); b = open(sys.argv[2], 'rb').read()
assert len(a) == len(b) and len(a) > 0
x = struct.unpack('<%df' % (len(a) // 4), a); y = struct.unpack('<%df' % (len(b) // 4), b)
scale = max(abs(v) for v in x); diff = max(abs(p - q) for p, q in zip(x, y))
print('# %d logits, max |diff| %.3g, max |logit| %.3g' % (len(x), diff, scale))
sys.exit(0 if diff <= 2e-5 * max(scale, 1.0) else 1)
" "$tmp/plain.f32" "$tmp/tp2.f32"
tp4 () { status_is 1 "$cli" generate --model "$m" --backend cpu --threads 2 --prompt x --tp 4 --quiet && grep -q 'key/value heads' "$tmp/err"; }
check "--tp 4 refused: the model has 2 KV heads (status 1, says why)" tp4
gpus01 () { status_is 1 "$cli" generate --model "$m" --backend cuda --gpus 0,1 --prompt x --quiet && test -s "$tmp/err"; }
check "--backend cuda --gpus 0,1 without two GPUs: status 1 and a message" gpus01
check "--tp without --backend cpu is a usage error" status_is 2 "$cli" generate --model "$m" --prompt x --tp 2
check "--gpus with --backend cpu is a usage error" status_is 2 "$cli" generate --model "$m" --prompt x --backend cpu --gpus 0,1
check "--gpus 0,0 is a usage error" status_is 2 "$cli" logits --model "$m" --prompt x --out "$tmp/x" --gpus 0,0
check "--gpus x is a usage error" status_is 2 "$cli" bench --model "$m" --gpus x
check "--tp 0 is a usage error" status_is 2 "$cli" bench --model "$m" --backend cpu --tp 0
exit $fail
