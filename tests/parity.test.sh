#!/bin/sh
# parity.test.sh: the compiled forward pass against PyTorch: `PROG forward` for every model of
# models/ and tests/models/, compared with the module `cnnc --emit=torch` prints and with the
# hand-written twins (tests/torch/parity.py explains the check and its tolerance).
# Under the sanitizer build (SANITIZE=1) the programs are built with the sanitizers too, on
# the small models only. Usage: sh tests/parity.test.sh /abs/build/dir
B=${1:?usage: sh tests/parity.test.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
fail() { echo "parity: FAIL: $*"; exit 1; }

[ -x "$B/cnnc" ] && [ -f "$B/libcnnrt.a" ] || fail "$B/cnnc or $B/libcnnrt.a not built (run make)"
$PY -c 'import torch, numpy' 2>/dev/null || fail "$PY cannot import torch and numpy (install python3-torch)"

# vgg16 is vgg16_bn without its batchnorms (the same convs, pools and classifier, which
# vgg16_bn checks): a minute of the test time for loading and running 553 MB of weights twice.
small="--skip vgg16"
fused=""
if [ "${SANITIZE:-0}" = 1 ]; then
    # libcnnrt.a is instrumented: programs link with the sanitizers (cnnc adds $CNNC_CFLAGS),
    # single-threaded so that the OpenMP runtime stays out of the sanitizers' way.
    CNNC_CFLAGS="-fsanitize=address,undefined -fno-sanitize=pointer-overflow -fno-sanitize-recover=all -O0 -g"
    CNNC_OPENMP=0
    export CNNC_CFLAGS CNNC_OPENMP
    # The fused programs only: the normal half compares them with the -O0 (unfused) ones, and
    # the two builds and runs of each model were half of this half's time.
    fused="--fused-only"
    # At -O0 (after cnnc's -O3): the sanitizers check the same generated C, and clang
    # instruments the long straight-line tiles of conv_blk.c ten times faster than at -O1 or
    # -O3 (conv_blk_pad_b's C: 169 s at -O3); the normal half checks the optimized builds.
    # resnet18_cifar's forward takes 70 s there (its convs are those of conv_blk_*);
    # conv_blk_pad_b's and conv_blk_b's builds 48 and 34 s (their tiles are those of
    # conv_blk_pad_a and conv_blk_a, which run here).
    small="--small --skip resnet18_cifar conv_blk_pad_b conv_blk_b"
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=passive
# run ARGS...: one run of the check; its counts go into the total printed at the end (skipped
# models from the first run only: the later ones pick a few models with --only).
P=0 F=0 S=0 rc=0 rest=0
run() {
    # shellcheck disable=SC2086
    $PY "$top/tests/torch/parity.py" --build "$B" $fused "$@" >"$B/parity.run.log" 2>&1 || rc=1
    sed 's/^\(parity: [0-9]* passed\)/  run: \1/' "$B/parity.run.log"
    line=$(grep -E '^parity: [0-9]+ passed, [0-9]+ failed' "$B/parity.run.log" | tail -1)
    [ -n "$line" ] || { rc=1; F=$((F + 1)); return; }
    P=$((P + $(echo "$line" | sed 's/^[^:]*: \([0-9]*\) passed.*/\1/')))
    F=$((F + $(echo "$line" | sed 's/^[^:]*: [0-9]* passed, \([0-9]*\) failed.*/\1/')))
    s=$(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')
    [ "$rest" = 1 ] || S=$((S + ${s:-0}))
    rest=1
}
# shellcheck disable=SC2086
run $small
# Under the sanitizers, the -O0 (unfused) programs of a few models whose standalone ops
# (batchnorm, activations, pooling, add, concat) run nowhere else unfused.
if [ "${SANITIZE:-0}" = 1 ]; then
    fused=""
    run --only cov_act cov_norm_act cov_blocks
    fused="--fused-only"
fi
# Batch slices (docs/hacking.md): at a compiled batch of 20 these forwards run as 2 slices of 10
# images (n = 20; at most 20 / 8 slices) or call one slice (n = 1).
"$B/cnnc" --emit=plan --batch 20 "$top/models/lenet5.cnn" | grep -q "runs as 2 slices of up to 10 images" ||
    fail "lenet5 at batch 20 is not planned in 2 batch slices"
sliced="lenet5 simplecnn cov_pool"
[ "${SANITIZE:-0}" = 1 ] && sliced="lenet5" # the others take 10 s there
# shellcheck disable=SC2086
run --compiled-batch 20 --only $sliced
# Linear layers with the images in the lanes (linear.c): at a compiled batch of 70 the forward
# runs as 2 slices of 35 images, each a block of 32 and a ragged one of 3.
lanes="lin_lanes_a lin_lanes_b simplecnn"
[ "${SANITIZE:-0}" = 1 ] && lanes="lin_lanes_a lin_lanes_b"
# shellcheck disable=SC2086
run --compiled-batch 70 --only $lanes
# Winograd F(4x4, 3x3) (conv_wino.c) on the odd planes, paddings and channel counts of
# conv_wino_a to c, which take F(2x2, 3x3) by the compiler's choice: CNNC_WINO_M=4 forces it
# (the normal build; under the sanitizers conv_wino_d runs F(4x4)).
[ "${SANITIZE:-0}" = 1 ] || CNNC_WINO_M=4 run --only conv_wino_a conv_wino_b conv_wino_c
echo "parity: $P passed, $F failed, $S skipped"
exit $rc
