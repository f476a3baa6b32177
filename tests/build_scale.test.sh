#!/bin/sh
# build_scale.test.sh: what keeps a program's build time linear in the number of ops
# (docs/language.md, Limits), checked by counting, never by timing:
#  1. the generated C grows linearly: `repeat N { linear(16); relu }` for N = 200 and 800,
#     training, gives 4x the bytes (within 10%) and the same distinct functions (identical
#     layers share one);
#  2. every op function is a call (CNN_NOINLINE) so the step functions stay small;
#     and the entry points (NAME_forward, NAME_train_step, ...) are cut into chunk functions, so
#     that no function grows with the number of ops;
#  3. a program build splits the training op functions into NAME_train_partK.c: with a stand-in
#     C compiler that only keeps the sources, each part and the main file pass clang
#     -fsyntax-only, and every function the main file declares is defined in exactly one part;
#  4. more distinct op functions than the limit: one error naming the limit, exit 1, no program.
# Usage: sh tests/build_scale.test.sh /abs/build/dir
B=${1:?usage: sh tests/build_scale.test.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "build_scale: FAIL: $*"; exit 1; }
gen() { /usr/bin/python3 "$top/bench/build_time_model.py" "$@"; }

# 1. linear growth of the emitted C
for n in 200 800; do
    gen repeat $n > "$tmp/r$n.cnn"
    mkdir -p "$tmp/r$n"
    "$B/cnnc" --emit=c --train "$tmp/r$n.cnn" -o "$tmp/r$n" || fail "--emit=c --train repeat $n"
done
b1=$(wc -c < "$tmp/r200/repeat200.c"); b4=$(wc -c < "$tmp/r800/repeat800.c")
f1=$(grep -E '^static [A-Z_ ]*void ' "$tmp/r200/repeat200.c" | grep -vc '_chunk[0-9]*(')
f4=$(grep -E '^static [A-Z_ ]*void ' "$tmp/r800/repeat800.c" | grep -vc '_chunk[0-9]*(')
awk -v a="$b1" -v b="$b4" 'BEGIN { r = b / a; exit !(r > 3.6 && r < 4.4) }' ||
    fail "repeat 200 -> 800: $b1 -> $b4 bytes of C, not about 4x"
[ "$f1" = "$f4" ] || fail "repeat 200 -> 800: $f1 -> $f4 distinct op functions (identical layers should share)"
echo "ok: repeat 200 -> 800 layers: $b1 -> $b4 bytes of C, $f1 = $f4 distinct op functions"
# ... and no function grows with the model: the entry points of repeat 800 (thousands of calls)
# are cut into chunk functions, so the longest function is as long at 800 layers as at 200.
longest() { awk '/^[a-z].*\) \{$/ { start = NR } /^\}$/ && start { if (NR - start > m) m = NR - start; start = 0 } END { print m }' "$1"; }
l1=$(longest "$tmp/r200/repeat200.c"); l4=$(longest "$tmp/r800/repeat800.c")
[ "$l4" -le 400 ] || fail "repeat 800: a function of $l4 lines (the entry points should be cut into chunks)"
grep -q '^static CNN_NOINLINE void repeat800_train_step_update_chunk2(' "$tmp/r800/repeat800.c" ||
    fail "repeat 800: no chunk functions for NAME_train_step_update"
echo "ok: longest function $l1 lines at 200 layers, $l4 at 800 (entry points in chunks)"

# 2. op functions are never inlined into the step functions
for f in "$tmp/r200/repeat200.c"; do
    bad=$(grep -E '^static (inline )?void (op|update_tensor)' "$f" | head -1)
    [ -z "$bad" ] || fail "an op function without CNN_NOINLINE: $bad"
done
echo "ok: every op function and update_tensor is CNN_NOINLINE"

# 3. the split of a program build, with a stand-in compiler that keeps the sources
cat > "$tmp/cc.sh" <<'CC'
#!/bin/sh
out=""; prev=""
for a in "$@"; do
    case "$a" in *.c) cp "$a" "$KEEP/" ;; esac
    [ "$prev" = "-o" ] && out=$a
    prev=$a
done
for h in "$(dirname "$out")"/*.h; do [ -f "$h" ] && cp "$h" "$KEEP/"; done
: > "$out"
CC
chmod +x "$tmp/cc.sh"
gen conv 40 > "$tmp/conv40.cnn"
mkdir -p "$tmp/keep"
KEEP="$tmp/keep" CC="$tmp/cc.sh" "$B/cnnc" "$tmp/conv40.cnn" -o "$tmp/prog" || fail "program build of conv40 with the stand-in compiler"
[ -f "$tmp/prog" ] || fail "no program written"
nparts=$(ls "$tmp/keep" | grep -c '^conv40_train_part[0-9]*\.c$')
[ "$nparts" -ge 2 ] || fail "conv40: $nparts training parts, expected at least 2"
for f in "$tmp/keep"/conv40_train.c "$tmp/keep"/conv40_train_part*.c; do
    clang -std=c99 -Wall -Wextra -pedantic -Werror -fsyntax-only -I "$top/runtime" -I "$tmp/keep" "$f" ||
        fail "$(basename "$f") does not compile cleanly"
done
grep -o '^void conv40_train_op[A-Za-z0-9_]*' "$tmp/keep/conv40_train.c" | sed 's/^void //' | sort > "$tmp/declared"
cat "$tmp/keep"/conv40_train_part*.c | grep -o '^CNN_NOINLINE void conv40_train_op[A-Za-z0-9_]*(' |
    sed 's/^CNN_NOINLINE void //; s/($//' | sort > "$tmp/defined"
[ -s "$tmp/declared" ] || fail "conv40_train.c declares no part function"
# each definition keeps CNN_NOINLINE, whose min_vector_width(512) lets clang keep 16-float
# vectors whole (without it the programs' training steps ran 25-40% slower)
cmp -s "$tmp/declared" "$tmp/defined" ||
    fail "functions declared in conv40_train.c and defined (with CNN_NOINLINE) in its parts differ"
[ -z "$(uniq -d "$tmp/defined")" ] || fail "a function is defined in two parts"
echo "ok: conv40 training code in $nparts parts, $(wc -l < "$tmp/defined") functions declared once and defined once"

# 4. the limit on distinct op functions
gen conv 250 > "$tmp/conv250.cnn"
if "$B/cnnc" "$tmp/conv250.cnn" -o "$tmp/big" 2> "$tmp/err"; then fail "conv250 built past the limit"; fi
[ "$(wc -l < "$tmp/err")" = 1 ] && grep -q "distinct op functions.*more than the limit of" "$tmp/err" ||
    fail "conv250: expected one line naming the limit, got: $(cat "$tmp/err")"
[ ! -e "$tmp/big" ] || fail "conv250: a program was written"
echo "ok: $(cat "$tmp/err")"
echo "build_scale: 4 passed, 0 failed"
