#!/bin/sh
# tests/faults.test.sh: training survives faults. LeNet-5 on a small synthetic IDX dataset
# (256 training and 64 test images, 4 epochs of batch 32, one thread), compared with one
# uninterrupted run:
#   (a) kill -9 deterministically inside each of the first checkpoint writes (the test-only hook
#       CNNC_TEST_STOP_IN_WRITE=N stops the process in its Nth atomic write, the temporary file
#       written but not renamed), and at timed moments; after every kill, last.safetensors and
#       best.safetensors (when present) load, and --resume from last ends with exactly the
#       uninterrupted run's weights; the stale .tmp.PID files are removed when training starts;
#   (b) a save directory on a full file system (a small tmpfs) and a read-only one give one
#       clear error line, status 1, the previous checkpoints intact; the read-only one before
#       the first epoch;
#   (c) an empty test split, NaN weights (named with their index, unless --allow-nonfinite) and
#       the NaN loss they cause (blamed on the weights, not the learning rate) are errors.
# (b) needs `mount` (root); it is skipped with a SKIP line where mounting is impossible.
B=${1:?usage: sh tests/faults.test.sh BUILD_DIR}
top=${CNNC_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/cnnc-faults.XXXXXX) || exit 1
mounted=""
cleanup() {
    for m in $mounted; do umount "$m" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}
kills="1 2 3 5 6 9" delays="0.3 0.9 1.7 2.6"
if [ "${SANITIZE:-0}" = 1 ]; then # the runtime library is sanitized: so must the program be
    export CNNC_CFLAGS="-fsanitize=address,undefined -fno-sanitize=pointer-overflow -fno-sanitize-recover=all -O0" CNNC_OPENMP=0
    # the resume paths under the sanitizers: a kill in epoch 1's and in epoch 2's writes, one
    # timed kill (the normal half makes them all)
    kills="2 6" delays="0.9"
fi
export OMP_NUM_THREADS=1

# check_fail NAME STATUS PATTERN COMMAND...: exit STATUS, exactly one stderr line with "error"
# and PATTERN.
check_fail() {
    name=$1 want=$2 pattern=$3
    shift 3
    "$@" >"$tmp/stdout" 2>"$tmp/stderr"
    st=$?
    lines=$(wc -l <"$tmp/stderr")
    if [ "$st" != "$want" ]; then
        bad "$name: exit $st, want $want (stderr: $(head -3 "$tmp/stderr"))"
    elif [ "$lines" != 1 ] || ! grep -q "error" "$tmp/stderr"; then
        bad "$name: want one error line on stderr, got $lines: $(head -5 "$tmp/stderr")"
    elif ! grep -q -- "$pattern" "$tmp/stderr"; then
        bad "$name: stderr does not match '$pattern': $(cat "$tmp/stderr")"
    else
        ok
    fi
}

# same_tensors A B: every tensor of A equals B's, bit for bit (metadata aside).
same_tensors() {
    $PY - "$1" "$2" <<'EOF'
import json, struct, sys
def read(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    h.pop("__metadata__", None)
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items()}
a, b = read(sys.argv[1]), read(sys.argv[2])
sys.exit(0 if a == b and a else 1)
EOF
}

prog="$tmp/lenet5"
"$CNNC_BUILD/cnnc" "$top/models/lenet5.cnn" -o "$prog" --batch 32 || { echo "FAIL: cannot build lenet5"; exit 1; }
mkdir -p "$tmp/data"
$PY "$top/tests/torch/train_ref.py" data "$tmp/data" 256 64 28 28 10 5 || { echo "FAIL: cannot make the data"; exit 1; }
common="--data $tmp/data --epochs 4 --batch 32 --seed 3 --threads 1 --quiet" # $tmp has no spaces
train() { # SAVE-DIR [more flags]
    dir=$1
    shift
    "$prog" train $common --save "$dir" "$@"
}

# The uninterrupted reference.
train "$tmp/ref" >/dev/null 2>"$tmp/ref.err" || { echo "FAIL: reference run: $(cat "$tmp/ref.err")"; exit 1; }

# loads_ok DIR: last (and best, when present) load as weights (eval reads every tensor).
loads_ok() {
    for f in "$1/last.safetensors" "$1/best.safetensors"; do
        [ -e "$f" ] || continue
        "$prog" eval --weights "$f" --data "$tmp/data" >/dev/null 2>"$tmp/eval.err" ||
            { bad "$f does not load after the kill: $(cat "$tmp/eval.err")"; return 1; }
    done
    return 0
}

# finish NAME DIR: resume from DIR/last (or start afresh when no epoch ended) to the end and
# compare with the reference; no temporary file may remain.
finish() {
    name=$1 dir=$2
    if [ -e "$dir/last.safetensors" ]; then
        train "$dir" --resume "$dir/last.safetensors" >/dev/null 2>"$tmp/resume.err"
    else
        train "$dir" >/dev/null 2>"$tmp/resume.err"
    fi || { bad "$name: resume failed: $(cat "$tmp/resume.err")"; return; }
    if same_tensors "$dir/last.safetensors" "$tmp/ref/last.safetensors"; then ok; else
        bad "$name: resumed weights differ from the uninterrupted run"
    fi
    if ls "$dir" | grep -q '\.tmp\.'; then bad "$name: temporary files remain: $(ls "$dir")"; else ok; fi
}

# (a) Deterministic kills inside the Nth atomic write (best, last, log.csv, curves.svg of epoch
# 1, then epoch 2's), each stopped with the temporary file complete and then killed.
for n in $kills; do
    dir="$tmp/kill$n"
    CNNC_TEST_STOP_IN_WRITE=$n "$prog" train $common --save "$dir" >/dev/null 2>&1 & # $! is the program
    pid=$!
    stopped=0
    for i in $(seq 1 600); do # up to 60 s (sanitized builds are slow)
        st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null)
        [ "$st" = T ] && { stopped=1; break; }
        [ -z "$st" ] && break
        sleep 0.1
    done
    if [ $stopped = 1 ]; then
        ls "$dir" | grep -q "\.tmp\.$pid\$" && ok || bad "kill in write $n: no temporary file at the stop"
        kill -9 "$pid"
        wait "$pid" 2>/dev/null
        ls "$dir" | grep -q "\.tmp\.$pid\$" && ok || bad "kill in write $n: the temporary file vanished"
        loads_ok "$dir" && ok
        finish "kill in write $n" "$dir"
    else
        wait "$pid" 2>/dev/null
        bad "kill in write $n: the run never reached write $n"
    fi
done

# Timed kills at several moments of one run, resuming after each, then to the end.
dir="$tmp/timed"
for delay in $delays; do
    resume=""
    [ -e "$dir/last.safetensors" ] && resume="--resume $dir/last.safetensors"
    "$prog" train $common --save "$dir" $resume >/dev/null 2>&1 &
    pid=$!
    sleep $delay
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    loads_ok "$dir" && ok
done
finish "timed kills" "$dir"

# (c) Empty test split; NaN weights.
mkdir -p "$tmp/empty"
cp "$tmp/data/train-images-idx3-ubyte" "$tmp/data/train-labels-idx1-ubyte" "$tmp/empty/"
$PY -c "
import struct, sys
open(sys.argv[1] + '/t10k-images-idx3-ubyte', 'wb').write(struct.pack('>IIII', 0x803, 0, 28, 28))
open(sys.argv[1] + '/t10k-labels-idx1-ubyte', 'wb').write(struct.pack('>II', 0x801, 0))" "$tmp/empty"
check_fail "train, empty test split" 1 "the test split has no images" \
    "$prog" train --data "$tmp/empty" --epochs 1 --batch 32 --save "$tmp/e" --quiet
check_fail "eval, empty test split" 1 "the test split has no images" \
    "$prog" eval --weights "$tmp/ref/last.safetensors" --data "$tmp/empty"
$PY - "$tmp/ref/best.safetensors" "$tmp/nan.safetensors" <<'EOF'
import json, struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
o = 8 + n + h["conv1.weight"]["data_offsets"][0] + 4 * 7   # element 7: [0, 0, 1, 2]
b[o:o + 4] = struct.pack("<f", float("nan"))
open(sys.argv[2], "wb").write(b)
EOF
check_fail "NaN weights refused" 1 "tensor 'conv1.weight' holds NaN at index \[0, 0, 1, 2\] (element 7)" \
    "$prog" eval --weights "$tmp/nan.safetensors" --data "$tmp/data"
check_fail "NaN weights refused by --init-from" 1 "tensor 'conv1.weight' holds NaN" \
    train "$tmp/nan1" --init-from "$tmp/nan.safetensors"
check_fail "NaN loss blamed on the weights" 1 "the loss is NaN at epoch 1, step 1 of 8: the weights are non-finite (conv1.weight element 7 is NaN)" \
    train "$tmp/nan2" --init-from "$tmp/nan.safetensors" --allow-nonfinite

# (b) Out of space and read-only: a small tmpfs holding one epoch's checkpoints.
fs="$tmp/fs"
mkdir -p "$fs"
if mount -t tmpfs -o size=4m tmpfs "$fs" 2>/dev/null; then
    mounted="$fs"
    train "$fs/run" --epochs 1 >/dev/null 2>&1 || bad "one epoch on the tmpfs"
    cp "$fs/run/last.safetensors" "$tmp/before.safetensors"
    # Fill the file system, leaving less than a checkpoint.
    dd if=/dev/zero of="$fs/filler" bs=64k 2>/dev/null
    rm -f "$fs/filler"
    size=$(stat -c %s "$fs/run/last.safetensors")
    avail=$(df -k --output=avail "$fs" | tail -1)
    dd if=/dev/zero of="$fs/filler" bs=1k count=$((avail - size / 2048)) 2>/dev/null
    check_fail "no space left" 1 "last.safetensors: .*No space left on device" \
        train "$fs/run" --resume "$fs/run/last.safetensors"
    cmp -s "$fs/run/last.safetensors" "$tmp/before.safetensors" && ok || bad "ENOSPC: last.safetensors changed"
    ls "$fs/run" | grep -q '\.tmp\.' && bad "ENOSPC: temporary files remain: $(ls "$fs/run")" || ok
    rm -f "$fs/filler"
    if mount -o remount,ro "$fs" 2>/dev/null; then
        check_fail "read-only save directory" 1 "cannot write checkpoints there: Read-only file system" \
            train "$fs/run" --resume "$fs/run/last.safetensors"
        grep -q "epoch" "$tmp/stdout" && bad "read-only: an epoch ran before the error" || ok
        cmp -s "$fs/run/last.safetensors" "$tmp/before.safetensors" && ok || bad "read-only: last.safetensors changed"
    else
        echo "SKIP: cannot remount the tmpfs read-only"
    fi
else
    echo "SKIP: cannot mount a tmpfs (not root?): out-of-space and read-only checks skipped"
fi

echo "faults: $pass passed, $fail failed"
[ "$fail" = 0 ]
