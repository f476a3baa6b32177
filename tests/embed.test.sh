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
    export CNNC_CFLAGS="-fsanitize=address,undefined -fno-sanitize=pointer-overflow -fno-sanitize-recover=all -O0" CNNC_OPENMP=0
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
# --emit=c compiles for batch 1 unless --batch says otherwise; --train keeps the train batch.
mkdir -p "$tmp/b1" "$tmp/b4" "$tmp/bt"
"$cnnc" --emit=c -o "$tmp/b1" "$top/models/lenet5.cnn" && grep -q '^#define LENET5_BATCH 1 ' "$tmp/b1/lenet5.h" && ok ||
    bad "--emit=c without --batch is not batch 1: $(grep '_BATCH ' "$tmp/b1/lenet5.h")"
work=$(sed -n 's/^#define LENET5_WORK_FLOATS \([0-9]*\)/\1/p' "$tmp/b1/lenet5.h")
arena=$("$cnnc" --emit=plan --batch 1 "$top/models/lenet5.cnn" | sed -n 's/^arena //p')
[ -n "$work" ] && [ $((work * 4)) = "$arena" ] && ok || bad "batch-1 workspace $work floats, plan says $arena bytes"
echo "embed: LeNet-5 batch-1 workspace $((work * 4)) bytes"
# The batch-1 plan streams conv1 over conv0's rows (conv_stream.c): at most 6,144 bytes.
[ -n "$work" ] && [ $((work * 4)) -le 6144 ] && ok || bad "LeNet-5 batch-1 workspace $((work * 4)) bytes > 6144"
"$cnnc" --emit=ir "$top/models/lenet5.cnn" | grep -q 'streamed' && bad "the batch-64 plan streams" || ok

# Round trip: the small-arena pair (batch 1, streamed, embedded weights) against the standalone
# program compiled for the train batch (64: the plain kernels, the whole tensors), on the same
# weights and random images, every logit.
/usr/bin/python3 -c "
import json, struct, sys, random
random.seed(5); n = 6
v = [random.random() for _ in range(n * 28 * 28)]
open(sys.argv[1], 'wb').write(struct.pack('<%df' % len(v), *v))
h = json.dumps({'input': {'dtype': 'F32', 'shape': [n, 1, 28, 28], 'data_offsets': [0, 4 * len(v)]}}).encode()
h += b' ' * (-len(h) % 8)
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(h)) + h + struct.pack('<%df' % len(v), *v))" "$tmp/x.raw" "$tmp/x.safetensors"
cat >"$tmp/rt.c" <<'C'
#include <stdio.h>
#include "lenet5.h"
static float work[LENET5_WORK_FLOATS], img[28 * 28], out[10];
int main(int argc, char **argv) {
    FILE *f = fopen(argv[1], "rb");
    int i, k;
    if (!f || argc < 2)
        return 2;
    for (i = 0; fread(img, sizeof img, 1, f) == 1; i++) {
        if (lenet5_forward(lenet5_weights, work, img, out, 1) != 0)
            return 3;
        for (k = 0; k < 10; k++)
            printf("%.9g%c", (double)out[k], k == 9 ? '\n' : ' ');
    }
    fclose(f);
    return i == 6 ? 0 : 4;
}
C
"$cnnc" "$top/models/lenet5.cnn" -o "$tmp/lenet5_64" --no-train || bad "build lenet5 at the train batch"
if gcc -std=c99 -Wall -Wextra -pedantic -Werror -O2 -I"$tmp/gen" "$tmp/rt.c" "$tmp/gen/lenet5.c" -o "$tmp/rt" -lm 2>"$tmp/log" &&
   "$tmp/rt" "$tmp/x.raw" >"$tmp/rt.txt" &&
   "$tmp/lenet5_64" forward --weights "$tmp/w.safetensors" --input "$tmp/x.safetensors" --output "$tmp/y.safetensors" >/dev/null &&
   /usr/bin/python3 -c "
import json, struct, sys
raw = open(sys.argv[2], 'rb').read(); n = struct.unpack('<Q', raw[:8])[0]
t = json.loads(raw[8:8 + n])['output']; a, b = t['data_offsets']
want = struct.unpack('<%df' % ((b - a) // 4), raw[8 + n + a:8 + n + b])
got = [float(v) for line in open(sys.argv[1]) for v in line.split()]
assert t['shape'] == [6, 10] and len(got) == 60, (t['shape'], len(got))
err = max(abs(g - w) for g, w in zip(got, want)) / max(abs(w) for w in want)
print('embed: small-arena pair vs batch-64 program: rel %.1e over 6 images' % err)
sys.exit(0 if err <= 1e-5 else 1)" "$tmp/rt.txt" "$tmp/y.safetensors"; then
    ok
else
    bad "the small-arena pair and the batch-64 program disagree: $(head -3 "$tmp/log")"
fi
"$cnnc" --emit=c --batch 4 -o "$tmp/b4" "$top/models/lenet5.cnn" && grep -q '^#define LENET5_BATCH 4 ' "$tmp/b4/lenet5.h" && ok ||
    bad "--emit=c --batch 4"
# Weights packed once: at batch 4 conv1 repacks its weights at every call (conv_oc.c);
# lenet5_pack packs them once and lenet5_forward_packed must give lenet5_forward's logits, bit
# for bit (the programs' forward, eval and bench run packed: parity checks those against PyTorch).
cat >"$tmp/pk.c" <<'C'
#include <stdio.h>
#include <string.h>
#include "lenet5.h"
static float params[LENET5_PARAM_FLOATS], work[LENET5_WORK_FLOATS], packs[LENET5_PACK_FLOATS + 1];
static float img[4 * 28 * 28], a[40], b[40];
int main(void) {
    unsigned s = 1;
    int i;
    for (i = 0; i < LENET5_PARAM_FLOATS; i++)
        params[i] = (float)((s = s * 1103515245u + 12345u) >> 8) / 16777216.0f * 0.2f - 0.1f;
    for (i = 0; i < 4 * 28 * 28; i++)
        img[i] = (float)((s = s * 1103515245u + 12345u) >> 8) / 16777216.0f;
    if (LENET5_PACK_FLOATS < 2400 || lenet5_forward(params, work, img, a, 4) || lenet5_pack(params, work, packs) ||
        lenet5_forward_packed(params, packs, work, img, b, 4))
        return 2;
    for (i = 0; i < LENET5_PARAM_FLOATS; i++) /* the packs, not params, hold conv1's weights now */
        params[i] += i >= LENET5_OFFSET_CONV1_WEIGHT && i < LENET5_OFFSET_CONV1_WEIGHT + LENET5_NUMEL_CONV1_WEIGHT;
    lenet5_forward_packed(params, packs, work, img, b + 0, 4);
    return memcmp(a, b, sizeof a) ? 1 : 0;
}
C
gcc -std=c99 -Wall -Wextra -pedantic -Werror -O2 -I"$tmp/b4" "$tmp/pk.c" "$tmp/b4/lenet5.c" -o "$tmp/pk" -lm 2>"$tmp/log" &&
    "$tmp/pk" && ok || bad "lenet5_forward_packed differs from lenet5_forward (status $?): $(head -3 "$tmp/log")"
"$cnnc" --emit=c --train -o "$tmp/bt" "$top/models/lenet5.cnn" && grep -q '^#define LENET5_BATCH 64 ' "$tmp/bt/lenet5.h" && ok ||
    bad "--emit=c --train does not keep the train section's batch"

# The header: usable from C++ (extern "C"), named offsets equal to the tensor table's, and a
# CRC-32 of the embedded weights equal to zlib's over the checkpoint's tensors (Python, from
# the safetensors file itself, in the order of --emit=params).
cat >"$tmp/use.cc" <<'CC'
#include "lenet5.h"
int main() { return lenet5_check_params(lenet5_weights, LENET5_WEIGHTS_CRC32); }
CC
if g++ -Wall -Wextra -Werror -I"$tmp/gen" -c "$tmp/use.cc" -o "$tmp/use.o" 2>"$tmp/log" &&
   gcc -std=c99 -O1 -c "$tmp/gen/lenet5.c" -o "$tmp/lenet5.o" && g++ "$tmp/use.o" "$tmp/lenet5.o" -o "$tmp/use" -lm && "$tmp/use"; then
    ok
else
    bad "lenet5.h from C++: $(head -3 "$tmp/log")"
fi
want_crc=$("$cnnc" --emit=params "$top/models/lenet5.cnn" | /usr/bin/python3 -c "
import json, struct, sys, zlib
names = [line.split()[0] for line in sys.stdin if line.strip()]
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
head = json.loads(raw[8:8 + n]); data = raw[8 + n:]
blob = b''
for name in names:
    t = head[name]; assert t['dtype'] == 'F32'
    a, b = t['data_offsets']; blob += data[a:b]
print('0x%08xUL' % zlib.crc32(blob))" "$tmp/w.safetensors")
got_crc=$(sed -n 's/^#define LENET5_WEIGHTS_CRC32 \(.*\)/\1/p' "$tmp/gen/lenet5.h")
[ -n "$got_crc" ] && [ "$got_crc" = "$want_crc" ] && ok || bad "LENET5_WEIGHTS_CRC32 $got_crc, zlib says $want_crc"
cat >"$tmp/crc.c" <<'C'
#include <stdio.h>
#include <string.h>
#include "lenet5.h"
static float p[LENET5_PARAM_FLOATS];
int main(void) {
    int i, bad = 0;
    for (i = 0; i < LENET5_NUM_TENSORS; i++)
        if (!strcmp(lenet5_tensors[i].name, "linear2.bias") && lenet5_tensors[i].offset != LENET5_OFFSET_LINEAR2_BIAS)
            bad = 1;
    if (LENET5_NUMEL_CONV1_WEIGHT != 16 * 6 * 5 * 5 || LENET5_OFFSET_CONV0_WEIGHT != 0)
        bad = 1;
    memcpy(p, lenet5_weights, sizeof p);
    if (lenet5_check_params(p, LENET5_WEIGHTS_CRC32) != 0)   /* a faithful copy passes */
        bad = 1;
    p[LENET5_PARAM_FLOATS - 1] += 1.0f;                      /* padding is not part of the weights */
    p[LENET5_OFFSET_LINEAR1_WEIGHT + 17] += 1e-7f;           /* a one-ulp change is caught */
    if (lenet5_check_params(p, LENET5_WEIGHTS_CRC32) != -1)
        bad = 1;
    printf("%s\n", bad ? "bad" : "good");
    return bad;
}
C
gcc -std=c99 -Wall -Wextra -pedantic -Werror -I"$tmp/gen" "$tmp/crc.c" "$tmp/gen/lenet5.c" -o "$tmp/crc" -lm 2>"$tmp/log" &&
    "$tmp/crc" >/dev/null && ok || bad "named offsets / check_params: $(head -3 "$tmp/log")"

echo "embed: $pass passed, $fail failed"
[ "$fail" = 0 ]
