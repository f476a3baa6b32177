#!/bin/sh
# stream.test.sh: batch-1 inference plans where a conv reads the previous conv's output rows
# through a window (conv_stream.c): each model below must stream at batch 1 (else the check
# would test nothing), its batch-1 program must agree with PyTorch (tests/torch/parity.py,
# --compiled-batch 1: the module `cnnc --emit=torch` prints, and the hand-written twins where
# there are; cov_cond streams a producer without pooling, of two channel blocks), and
# LeNet-5's --emit=c workspace (batch 1 by default) must stay <= 6,144 bytes.
# Usage: sh tests/stream.test.sh /abs/build/dir
B=${1:?usage: sh tests/stream.test.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)
fail=0
bad() { echo "stream: FAIL: $*"; fail=1; }

for spec in lenet5:models/lenet5.cnn cov_cond:tests/models/cov_cond.cnn \
    s_odd:tests/torch/stream_held.cnn s_stride:tests/torch/stream_held.cnn s_wide:tests/torch/stream_held.cnn; do
    m=${spec%%:*} f=$top/${spec#*:}
    "$B/cnnc" --emit=ir --batch 1 --model "$m" "$f" | grep -q 'streamed before' || bad "$m does not stream at batch 1"
    "$B/cnnc" --emit=ir --batch 8 --model "$m" "$f" | grep -q 'streamed before' && bad "$m streams at batch 8"
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$B/cnnc" --emit=c -o "$tmp" "$top/models/lenet5.cnn" || bad "--emit=c lenet5"
work=$(sed -n 's/^#define LENET5_WORK_FLOATS \([0-9]*\)/\1/p' "$tmp/lenet5.h")
echo "stream: LeNet-5 --emit=c workspace $((work * 4)) bytes (limit 6144)"
[ -n "$work" ] && [ $((work * 4)) -le 6144 ] || bad "LeNet-5 --emit=c workspace $((work * 4)) bytes > 6144"

export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=passive
if [ "${SANITIZE:-0}" = 1 ]; then
    export CNNC_CFLAGS="-fsanitize=address,undefined -fno-sanitize=pointer-overflow -fno-sanitize-recover=all -O0 -g" CNNC_OPENMP=0
fi
/usr/bin/python3 "$top/tests/torch/parity.py" --build "$B" --compiled-batch 1 --file "$top/models/lenet5.cnn" \
    "$top/tests/models/cov_cond.cnn" "$top/tests/torch/stream_held.cnn" \
    --only lenet5 cov_cond s_odd s_stride s_wide || fail=1
[ "$fail" = 0 ]
