#!/bin/sh
# grad_parity.test.sh: the compiled training step against PyTorch autograd: `PROG grad` (loss
# and every trained tensor's gradient) for each model, compared with its hand-written twin and
# with `cnnc --emit=torch` (tests/torch/grad_parity.py explains the check and its tolerance).
# Under the sanitizer build (SANITIZE=1) the programs are built with the sanitizers too, on
# the small models only. Usage: sh tests/grad_parity.test.sh /abs/build/dir
B=${1:?usage: sh tests/grad_parity.test.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
fail() { echo "grad_parity: FAIL: $*"; exit 1; }

[ -x "$B/cnnc" ] && [ -f "$B/libcnnrt.a" ] || fail "$B/cnnc or $B/libcnnrt.a not built (run make)"
$PY -c 'import torch, numpy' 2>/dev/null || fail "$PY cannot import torch and numpy (install python3-torch)"

# conv_issue11 (one channel 200,000 wide) is checked by parity.test.sh's forward only: its
# reference gradients took PyTorch 30 s of the normal half (a 1 x 64 kernel unfolded over the
# whole row, in float64); conv_wide's wide 1-D convs keep the gradients of such rows checked.
only="--skip conv_issue11"
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
    # At -O0 (after cnnc's -O3; parity.test.sh says why). The slowest sanitized models are left
    # to the normal half (250 s here): resnet18_cifar; conv_blk_pad_b, conv_blk_b, conv_blk_c,
    # conv_blk_s2_a, conv_1x1_b, cov_concat, conv_dw_wide, conv_issue11 and conv_wide, whose
    # kernels conv_blk_pad_a, conv_blk_a, conv_blk_s2_b, conv_blk_s2_c, conv_1x1_a, conv_1x1_c,
    # cov_blocks and se_dw_wide run under the sanitizers (and parity.test.sh their forwards).
    only="--skip resnet18_cifar conv_blk_pad_b conv_blk_b conv_blk_c conv_blk_s2_a conv_1x1_b cov_concat conv_dw_wide conv_issue11 conv_wide"
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=passive
# run ARGS...: one parity run; its summary line is kept for the total printed at the end (the
# skipped models of the first run only: the later runs pick a few models with --only).
P=0 F=0 S=0 rc=0 rest=0
run() {
    # shellcheck disable=SC2086
    $PY "$top/tests/torch/grad_parity.py" --build "$B" $fused "$@" >"$B/grad_parity.run.log" 2>&1 || rc=1
    sed 's/^\(grad_parity: [0-9]* passed\)/  run: \1/' "$B/grad_parity.run.log"
    line=$(grep -E '^grad_parity: [0-9]+ passed, [0-9]+ failed' "$B/grad_parity.run.log" | tail -1)
    [ -n "$line" ] || { rc=1; F=$((F + 1)); return; }
    P=$((P + $(echo "$line" | sed 's/^[^:]*: \([0-9]*\) passed.*/\1/')))
    F=$((F + $(echo "$line" | sed 's/^[^:]*: [0-9]* passed, \([0-9]*\) failed.*/\1/')))
    s=$(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')
    [ "$rest" = 1 ] || S=$((S + ${s:-0}))
    rest=1
}
# shellcheck disable=SC2086
run $only
# Under the sanitizers, the -O0 (unfused) training programs of two models with standalone
# batchnorms, activations, pooling and adds.
if [ "${SANITIZE:-0}" = 1 ]; then
    fused=""
    run --only cov_act cov_blocks
    fused="--fused-only"
fi
# Batch slices (docs/hacking.md): at batch 37 these train as uneven slices (18 and 19 images on
# 2 processors; up to 4 slices, 37 / 8, on more), the loss's mean taken over the slices (class
# weights, one of them 0; label smoothing; focal).
"$B/cnnc" --emit=plan --train --batch 37 "$top/models/lenet5.cnn" | grep -q "runs as [234] slices of up to" ||
    fail "lenet5 at batch 37 is not planned in batch slices"
sliced="lenet5 grad_slice_weighted grad_slice_focal grad_slice_conv conv_tiny_a conv_tiny_b"
# shellcheck disable=SC2086
run --batch 37 --only $sliced
# Linear layers with the images in the lanes (linear.c): a training forward of 37 images (a
# batchnorm couples them: one slice) takes them in a block of 32 and a ragged one of 5.
run --batch 37 --only lin_lanes_a
echo "grad_parity: $P passed, $F failed, $S skipped"
exit $rc
