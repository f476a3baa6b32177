#!/bin/sh
# bench/distributed.sh: measures what data-parallel training (cnnc --mpi) spends on
# communication with 2 ranks on this machine, for docs/distributed.md: for LeNet-5, simplecnn
# (batchnorm) and bench/mpi_wide.cnn at three widths (gradients of 1.3 to 51 MB), one epoch on
# 1024 Fashion-MNIST images with CNNC_MPI_STATS=1, which prints the time of each gradient
# allreduce, its bus bandwidth (2(N-1)/N * bytes / time) and the batchnorm sums.
# Usage: sh bench/distributed.sh [BUILD_DIR] [RANKS]
B=${1:-build}
N=${2:-2}
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/cnnc-dist.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
data=$tmp/data   # 1024 training and 64 test images of Fashion-MNIST
/usr/bin/python3 "$top/tests/mpi/subset.py" /usr/share/datasets/fashion-mnist "$data" 1024 64 || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 CNNC_MPI_STATS=1
run() { # NAME MODEL [cnnc flags]
    name=$1
    model=$2
    shift 2
    "$top/$B/cnnc" --mpi "$@" "$model" -o "$tmp/$name" || exit 1
    printf '%-16s ' "$name"
    mpirun --oversubscribe -np "$N" "$tmp/$name" train --data "$data" --epochs 1 \
        --threads 1 --quiet --save "$tmp/run-$name" 2>&1 >/dev/null | grep '^mpi stats'
}
run lenet5 "$top/models/lenet5.cnn"
run simplecnn "$top/models/simplecnn.cnn"
run wide-1.3MB "$top/bench/mpi_wide.cnn" -D width=400
run wide-12.8MB "$top/bench/mpi_wide.cnn" -D width=4096
run wide-51MB "$top/bench/mpi_wide.cnn" -D width=16384
run wide-102MB "$top/bench/mpi_wide.cnn" -D width=32768
