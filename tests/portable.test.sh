#!/bin/sh
# Generated code must build and compute the same numbers without AVX-512 and with gcc: the
# parity check (against PyTorch) for a few models, and the gradient check of conv_bwd_odd and
# conv_dw_wide (the weight-gradient tiles and vector widths differ per instruction set), whose
# programs are built with
# -march=x86-64-v2 (SSE4.2 only) and -march=x86-64-v3 (AVX2), and with CC=gcc; and gradients
# with no vector types at all (-U__GNUC__: the scalar loops). conv_oc_a and conv_oc_b run
# conv_oc.c's forward kernel, whose tile size depends on the target (conv_oc_e its row form,
# the scalar loops included); conv_blk_a, conv_blk_d and
# conv_blk_e conv_blk.c's forward and data gradient (tile per target too; conv_blk_f's rows of
# 33 to 64 columns take it without AVX-512, conv.c's kernel with), conv_blk_s2_a its
# strided data gradient by phases (conv_pair_a with a 1x1 stride-2 shortcut's in phase (0, 0):
# AVX2, gcc, scalar), conv_blk_s2_f (AVX2) its forward's per-tap copies in vectors of 8 up to
# the right padding (AVX-512's tiles skip the taps that read it); conv_blk_grp_a and
# conv_blk_grp_b (AVX2, gcc; a: scalar) grouped convs by group through conv_blk.c's forward and
# data gradient and conv_bwd.c's weight gradient (conv_blk_grp_d, AVX2: rows of 36 columns);
# conv_dil_a (AVX2, gcc, scalar) dilated convs the same way (conv_dil_d, AVX2: rows of 36);
# conv_narrow_a (AVX2, gcc, scalar) and conv_narrow_b (AVX2) narrow groups widened through the
# same kernels (the weight gradient's stores of the diagonal blocks per target);
# conv_blk_pad_a's forward (gcc, AVX2) its tiles that skip
# the taps reading zero padding (AVX-512, built by gcc here; the data gradient runs the same
# code; AVX2 computes the same tiles' positions with all their taps); conv_1x1_a
# conv_1x1.c's forward, data and weight gradients (a strided 1x1 conv; tile per target;
# conv_1x1_d its stride-2 packing and write-out in whole and half vectors, whose shuffles'
# lanes differ per target; conv_1x1_f (AVX2, gcc, scalar) its data gradient adding into the
# other gradient of a residual block's input, in vectors and pixel by pixel; conv_evens_a (AVX2,
# scalar) a 1x1 stride-2 conv reading the even pixels the add before it wrote, on odd sizes);
# grad_slice_conv at batch 37 the batch slices and conv_bwd.c's data gradient with the images
# in the lanes (tile per target; conv_tiny_a its unrolled column blocks and loop), lin_lanes_a at batch 37 linear.c's forward with the images
# in the lanes (a block of 32 or 16 per target), fuse_train_e's gradients conv_small.c's
# forward closed by a pooling in training (a job's runs of vectors per target), conv_wino_a and
# conv_wino_b conv_wino.c's forward and data gradient (the register tile per target; conv_wino_d F(4x4)),
# conv_dws_a's gradients conv_small.c's weight gradient on a strided conv's phases (channel
# blocks per target), conv_dws_e's the same reading dy in place (rows of whole vectors). The SSE, AVX2 and scalar builds are compiled at -O0
# (a quarter of the compile time of -O3, this script 386 -> 333 s of CPU against -O1; the AVX2
# check alone 70 -> 40 s, 2026-12-02; the code paths are chosen by the preprocessor, not by the
# optimization level), gcc's at cnnc's -O3 (with -march=native: the optimized build of the
# kernels' vector code under the other compiler; the normal half's parity and grad_parity
# check clang's).
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "${SANITIZE:-0}" = 1 ]; then # counted as skipped, not passed: the normal build runs them
    for label in "SSE4.2 only" "AVX2" "gcc" "scalar loops"; do echo "SKIP portable $label: not under the sanitizers (the normal build runs it)"; done
    echo "portable: 0 passed, 0 failed, 4 skipped"
    exit 0
fi
pass=0; fail=0
check() { # label, env assignments..., then models
    label=$1; shift
    # gradients first: parity.py reuses their programs (tests/torch/parity.py, build_program).
    # The fused programs only (--fused-only): each is checked against PyTorch's twin here; the
    # unfused (-O0) programs, compared with the fused ones model by model, are the normal half's
    # on this machine's vectors, and the scalar loops' below (they had taken half of this
    # script's time: AVX2's gradients 31 -> 17 s on an idle 2-core machine, 2026-12-04).
    if env "$@" /usr/bin/python3 "$top/tests/torch/grad_parity.py" --build "$B" --fused-only --only $grads $more \
            >"$B/portable.log" 2>&1 &&
        env "$@" /usr/bin/python3 "$top/tests/torch/parity.py" --build "$B" --fused-only --only lenet5 cov_conv cov_pool cov_norm_act conv_odd conv_oc_a conv_oc_b conv_oc_e conv_blk_a conv_blk_d conv_blk_e conv_blk_f conv_1x1_a conv_1x1_d conv_wino_a conv_wino_b conv_wino_d $pmore \
        >>"$B/portable.log" 2>&1 &&
        env "$@" /usr/bin/python3 "$top/tests/torch/grad_parity.py" --build "$B" --fused-only --batch 37 --only $grads37 >>"$B/portable.log" 2>&1; then
        pass=$((pass+1)); echo "$label: ok"
    else
        fail=$((fail+1)); echo "FAIL $label"; tail -20 "$B/portable.log"
    fi
}
# conv_blk_s2_a's gradients (a slow build) on AVX2 and the scalar loops only: its phases run
# conv_blk.c's tiles, which conv_blk_a's gradients check on every target.
# SSE4.2's gradients: the kernels whose tiles differ from AVX2's there (#if __AVX__ in
# conv_bwd.c and conv_1x1.c; the others compile AVX2's 8-float vectors into pairs of registers)
grads="conv_bwd_odd conv_1x1_a conv_1x1_d" grads37="grad_slice_conv"
more=""; pmore=""
check "SSE4.2 only (-march=x86-64-v2, -O0)" CNNC_CFLAGS="-march=x86-64-v2 -O0"
grads="conv_bwd_odd conv_dw_wide conv_blk_a conv_1x1_a conv_1x1_d conv_1x1_f fuse_train_e conv_wino_a conv_dws_a conv_dws_e"
grads37="grad_slice_conv conv_tiny_a conv_tiny_b lin_lanes_a"
more="conv_blk_s2_a conv_pair_a conv_blk_grp_a conv_blk_grp_b conv_dil_a conv_evens_a conv_narrow_a conv_narrow_b"; pmore="conv_blk_pad_a conv_blk_s2_f conv_blk_grp_d conv_dil_d"
check "AVX2 (-march=x86-64-v3, -O0)" CNNC_CFLAGS="-march=x86-64-v3 -O0"
more="conv_pair_a conv_blk_grp_a conv_blk_grp_b conv_dil_a conv_narrow_a"; pmore="conv_blk_pad_a"
check "gcc" CC=gcc
# No vector types (what a compiler other than gcc and clang gets): the scalar loops, gradients
# included. The parity models are few-channel ones, whose scalar paths run quickly.
scalar() {
    if env CNNC_CFLAGS="-U__GNUC__ -O0" /usr/bin/python3 "$top/tests/torch/grad_parity.py" --build "$B" --only conv_bwd_odd conv_dw_wide lenet5 conv_oc_a conv_oc_e conv_blk_a conv_blk_s2_a conv_pair_a conv_blk_grp_a conv_dil_a conv_evens_a conv_1x1_a conv_1x1_d conv_1x1_f fuse_train_a conv_wino_a conv_dws_a conv_dws_e conv_narrow_a \
        >"$B/portable.log" 2>&1 &&
        env CNNC_CFLAGS="-U__GNUC__ -O0" /usr/bin/python3 "$top/tests/torch/grad_parity.py" --build "$B" --batch 37 --only grad_slice_conv conv_tiny_a conv_tiny_b \
        >>"$B/portable.log" 2>&1; then
        pass=$((pass+1)); echo "scalar loops (-U__GNUC__, -O0): ok"
    else
        fail=$((fail+1)); echo "FAIL scalar loops (-U__GNUC__, -O0)"; tail -20 "$B/portable.log"
    fi
}
scalar
echo "portable: $pass passed, $fail failed"
[ "$fail" = 0 ]
