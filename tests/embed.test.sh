#!/bin/sh
# examples/embed: generate lenet5.c/.h with embedded weights, build the example with only those
# files under -std=c99 -Wall -Wextra -pedantic -Werror (gcc and clang), classify a PGM, and
# check the class and probability against the standalone program's `predict` with the same
# weights (the runtime's path: weights from the file, image through stb).
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cnnc="$B/cnnc"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
if [ "${SANITIZE:-0}" = 1 ]; then # the runtime library is sanitized: so must the program be
    export CNNC_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" CNNC_OPENMP=0
fi
ok() { pass=$((pass+1)); }
bad() { echo "FAIL $*"; fail=$((fail+1)); }

"$cnnc" "$top/models/lenet5.cnn" -o "$tmp/lenet5" --batch 1 || bad "build lenet5"
"$tmp/lenet5" init --seed 7 --save "$tmp/w.safetensors" >/dev/null || bad "init"
mkdir -p "$tmp/gen"
"$cnnc" --emit=c --embed-weights "$tmp/w.safetensors" -o "$tmp/gen" "$top/models/lenet5.cnn" --batch 1 || bad "emit"
grep -q "lenet5_weights\[LENET5_PARAM_FLOATS\] = {" "$tmp/gen/lenet5.c" && ok || bad "no embedded weights"
# A deterministic test image: a bright rectangle on a dark background.
/usr/bin/python3 -c "
import sys
px = bytes((200 if 6 <= r < 22 and 9 <= c < 19 else 10) for r in range(28) for c in range(28))
open(sys.argv[1], 'wb').write(b'P5\n28 28\n255\n' + px)" "$tmp/img.pgm"
for cc in gcc clang; do
    if make -s -C "$top/examples/embed" GEN="$tmp/gen" OUT="$tmp" CC=$cc >"$tmp/make.log" 2>&1; then
        ok
    else
        bad "examples/embed does not build with $cc:"; cat "$tmp/make.log"
    fi
    out=$("$tmp/classify" "$tmp/img.pgm") || bad "classify ($cc) failed"
    "$tmp/classify" /dev/null 2>/dev/null; [ $? -eq 1 ] && ok || bad "bad image accepted ($cc)"
    want=$("$tmp/lenet5" predict --weights "$tmp/w.safetensors" --top 1 "$tmp/img.pgm")
    cls=$(echo "$out" | sed -n 's/.*class \([0-9]*\) .*/\1/p')
    prob=$(echo "$out" | sed -n 's/.*probability \([0-9.]*\).*/\1/p')
    echo "embed ($cc): $out"
    echo "predict:      $want"
    # Both sides parsed exactly: an output whose format changed gives empty fields, a failure.
    wcls=$(echo "$want" | sed -n 's/^.*: \([0-9][0-9]*\) \(0\.[0-9]*\)$/\1/p')
    wprob=$(echo "$want" | sed -n 's/^.*: \([0-9][0-9]*\) \(0\.[0-9]*\)$/\2/p')
    if [ -z "$cls" ] || [ -z "$prob" ] || [ -z "$wcls" ] || [ -z "$wprob" ]; then
        bad "classify ($cc) or predict printed something unexpected: '$out' / '$want'"
    elif [ "$cls" = "$wcls" ] && [ "$prob" = "$wprob" ]; then ok; else bad "classify ($cc) disagrees with predict"; fi
    rm -f "$tmp/classify"
done
echo "embed: $pass passed, $fail failed"
[ "$fail" = 0 ]
