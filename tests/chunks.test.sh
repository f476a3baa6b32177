#!/bin/sh
# chunks.test.sh: entry points cut into chunk functions compute what whole ones do.
# A model with more than 192 calls in an entry point (NAME_forward, NAME_forward_tap,
# NAME_train_step, NAME_update, NAME_train_step_update) gets it cut into static functions of
# 96 calls each (docs/language.md, Build time); CNNC_CHUNK=K, a test hook, cuts from K + 1
# calls on into chunks of K, so that small models run through chunked code and are checked
# against the independent references: PyTorch (forward, gradients), the visualize test's
# PyTorch feature maps (the taps), and NAME_train_step + NAME_update for the fused step.
# Usage: sh tests/chunks.test.sh /abs/build/dir
B=${1:?usage: sh tests/chunks.test.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
pass=0; fail=0; skip=0
if [ "${SANITIZE:-0}" = 1 ]; then
    # the sanitizer half runs tte and visualize on whole entry points; chunked code is the same
    # calls in other functions, checked here in the normal half
    echo "SKIP chunks: the normal half checks chunked entry points"
    echo "chunks: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CNNC_CHUNK=3 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=passive
mkdir -p "$tmp/c"
"$B/cnnc" --emit=c --train "$top/tests/models/cov_residual.cnn" -o "$tmp/c" &&
    n=$(grep -c '^static CNN_NOINLINE [a-z]* cov_residual_[a-z_]*_chunk[0-9]*(' "$tmp/c/cov_residual.c") &&
    [ "$n" -ge 10 ] && { echo "ok   CNNC_CHUNK=3: cov_residual's training C has $n chunk functions"; pass=$((pass+1)); } ||
    { echo "FAIL CNNC_CHUNK=3 did not cut cov_residual's entry points"; fail=$((fail+1)); }
run() {
    what=$1; shift
    if "$@" > "$tmp/out" 2>&1; then
        echo "ok   $what: $(tail -1 "$tmp/out")"; pass=$((pass+1))
    else
        cat "$tmp/out"; echo "FAIL $what"; fail=$((fail+1))
    fi
}
run "forward against PyTorch" $PY "$top/tests/torch/parity.py" --build "$B" --only cov_residual lenet5
run "gradients against PyTorch" $PY "$top/tests/torch/grad_parity.py" --build "$B" --only cov_residual
run "train_step_update against train_step + update" sh "$top/tests/tte.test.sh" "$B"
CNNC_CHUNK=2 run "visualize's taps against PyTorch" sh "$top/tests/visualize.test.sh" "$B"
echo "chunks: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
