#!/bin/sh
# stack_frames.test.sh: the inference kernels keep their large buffers in the planned
# workspace, not on the stack (the fused batchnorm's scale and shift, the row blocks of a conv
# fused with pooling): compiled with gcc -O2 -fopenmp -fstack-usage, no function of the
# --emit=c model C of models with those fusions has a frame above LIMIT bytes (register tiles,
# spills and the OpenMP outlined functions stay well under it; a 512-channel batchnorm's two
# arrays alone are 4 KB). tests/strict_c.test.sh checks NAME_STACK_BYTES against the frames.
B=${1:-build}
case "$B" in /*) ;; *) B="$PWD/$B" ;; esac
top=$(cd "$(dirname "$0")/.." && pwd)
cnnc="$B/cnnc"
LIMIT=3072
if [ "${SANITIZE:-0}" = 1 ] || ! command -v gcc >/dev/null 2>&1; then
    echo "SKIP stack_frames: the generated C does not depend on the sanitizers (or no gcc)"
    echo "stack_frames: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
# simplecnn: conv + batchnorm + pool fused; resnet18_cifar: 512-channel folded batchnorms;
# mobilenet_v2: folded batchnorms in depthwise, pointwise and linear kernels.
for spec in simplecnn:1 simplecnn:4 resnet18_cifar:1 mobilenet_v2:1; do
    m=${spec%:*} nb=${spec#*:}
    d="$tmp/$m.$nb"; mkdir -p "$d"
    if ! "$cnnc" --emit=c --batch "$nb" -o "$d" "$top/models/$m.cnn" >"$d/log" 2>&1 ||
        ! (cd "$d" && gcc -std=c99 -O2 -fopenmp -fstack-usage -c "$m.c" -o "$m.o") >>"$d/log" 2>&1; then
        echo "FAIL $m batch $nb: does not build"; head -5 "$d/log"; fail=$((fail+1)); continue
    fi
    big=$(awk -F'\t' -v lim=$LIMIT '$2 + 0 > lim { print $1 " " $2 " bytes" }' "$d/$m.su")
    if [ -n "$big" ]; then
        echo "FAIL $m batch $nb: frames above $LIMIT bytes:"; echo "$big" | head -5; fail=$((fail+1))
    else
        pass=$((pass+1))
    fi
done
echo "stack_frames: $pass passed, $fail failed, 0 skipped"
[ "$fail" = 0 ]
