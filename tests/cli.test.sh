#!/bin/sh
# tests/cli.test.sh: the command line of programs built by cnnc (runtime/cli.c, cmd_*.c).
# Builds lenet5 and two tiny models, then checks info, init, forward, predict and bench, and
# that every bad input or usage ends with status 1 or 2, exactly one "error" line on stderr,
# and no output file left behind. Plumbing only: numerical parity with PyTorch is tested in
# tests/torch. Usage: sh tests/cli.test.sh /abs/build/dir
B=${1:?usage: sh tests/cli.test.sh BUILD_DIR}
top=${CNNC_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
fx="python3 $top/tests/fixtures/cli_fixtures.py"
fashion=${CNNC_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}/t10k-images-idx3-ubyte.gz
tmp=$(mktemp -d /tmp/cnnc-cli.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
out="$tmp/out"      # where failing commands try to write; must stay empty
mkdir -p "$out"
pass=0
fail=0
skipped=0

ok() { pass=$((pass + 1)); }
# skip WHAT: a check that cannot run here; under CI (CI=true), where .ci/install-deps installed
# everything, a failure.
skip() {
    if [ "${CI:-}" = true ]; then bad "$* (CI=true: it should be installed)"; else
        skipped=$((skipped + 1))
        echo "SKIP: $*"
    fi
}
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}

# check NAME COMMAND...: must exit 0.
check() {
    name=$1
    shift
    if "$@" >"$tmp/stdout" 2>"$tmp/stderr"; then ok; else
        bad "$name: exit $? (stderr: $(head -3 "$tmp/stderr"))"
    fi
}

# check_fail NAME STATUS COMMAND...: must exit STATUS with exactly one stderr line that
# contains "error", and leave $out empty.
check_fail() {
    name=$1
    want=$2
    shift 2
    "$@" >"$tmp/stdout" 2>"$tmp/stderr"
    st=$?
    lines=$(wc -l <"$tmp/stderr")
    left=$(ls -A "$out")
    if [ "$st" != "$want" ]; then
        bad "$name: exit $st, want $want (stderr: $(head -3 "$tmp/stderr"))"
    elif [ "$lines" != 1 ] || ! grep -q "error" "$tmp/stderr"; then
        bad "$name: want one error line on stderr, got $lines: $(head -5 "$tmp/stderr")"
    elif [ -n "$left" ]; then
        bad "$name: left files behind: $left"
        rm -f "$out"/* "$out"/.[!.]*
    else
        ok
    fi
}

# expect NAME PATTERN FILE: FILE holds a line matching the grep pattern.
expect() {
    if grep -q -- "$2" "$3"; then ok; else bad "$1: no line matching '$2' in: $(head -10 "$3")"; fi
}

# ---- building the programs ---------------------------------------------------------------

# Under the sanitizer build, libcnnrt.a is instrumented, so the programs link with the
# sanitizers too (cnnc adds $CNNC_CFLAGS), single-threaded to keep OpenMP out of their way.
if [ "${SANITIZE:-0}" = 1 ]; then
    CNNC_CFLAGS="-fsanitize=address,undefined -fno-sanitize=pointer-overflow -fno-sanitize-recover=all -O0 -g"
    CNNC_OPENMP=0
    export CNNC_CFLAGS CNNC_OPENMP
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=passive

cat >"$tmp/tiny.cnn" <<'EOF'
model tiny {
    input [3, 8, 8]
    conv(4, 3, pad = 1); relu; maxpool(2)
    flatten
    linear(5)
}
EOF
cat >"$tmp/flat.cnn" <<'EOF'
model flat {
    input [12]
    linear(6); batchnorm; relu
    linear(3); softmax
}
EOF
lenet5="$tmp/lenet5"
tiny="$tmp/tiny"
flat="$tmp/flat"
check "build lenet5" "$B/cnnc" "$top/models/lenet5.cnn" -o "$lenet5"
check "build tiny" "$B/cnnc" --batch 2 "$tmp/tiny.cnn" -o "$tiny"
check "build flat" "$B/cnnc" --batch 4 "$tmp/flat.cnn" -o "$flat"
if [ ! -x "$lenet5" ] || [ ! -x "$tiny" ] || [ ! -x "$flat" ]; then
    echo "cli: $pass passed, $((fail + 1)) failed (cannot build the programs)"
    exit 1
fi

# ---- help ----------------------------------------------------------------------------------

check "--help" "$lenet5" --help
cp "$tmp/stdout" "$tmp/help"
for c in info init predict bench forward; do
    expect "--help lists $c" "^  $c " "$tmp/help"
    check "$c --help" "$lenet5" "$c" --help
    expect "$c --help" "usage: lenet5 $c" "$tmp/stdout"
done
check "help forward" "$lenet5" help forward
expect "help forward" "usage: lenet5 forward" "$tmp/stdout"

# ---- info ----------------------------------------------------------------------------------

check "info" "$lenet5" info
expect "info: parameter count" "61,706" "$tmp/stdout"
expect "info: input" "\[1, 28, 28\]" "$tmp/stdout"
expect "info: output" "10 logits" "$tmp/stdout"
expect "info: flops" "853,938" "$tmp/stdout"
expect "info: batch" "64 images" "$tmp/stdout"
check "info --tensors" "$lenet5" info --tensors
expect "info --tensors" "^linear2.weight  *\[10, 84\]" "$tmp/stdout"
check "info flat" "$flat" info --tensors
expect "info flat: probabilities" "3 probabilities" "$tmp/stdout"
expect "info flat: buffers" "running_var .*(buffer)" "$tmp/stdout"

# ---- init ----------------------------------------------------------------------------------

w="$tmp/w.safetensors"
check "init" "$lenet5" init --seed 7 --save "$w"
"$B/cnnc" --emit=params "$top/models/lenet5.cnn" | cut -d' ' -f1 >"$tmp/want_names"
$fx names "$w" >"$tmp/names"
if cmp -s "$tmp/want_names" "$tmp/names"; then ok; else bad "init: tensor names differ from --emit=params"; fi
check "init again" "$lenet5" init --seed 7 --save "$tmp/w2.safetensors"
if cmp -s "$w" "$tmp/w2.safetensors"; then ok; else bad "init: same seed, different files"; fi
check "init seed 8" "$lenet5" init --seed=8 --save "$tmp/w3.safetensors"
if cmp -s "$w" "$tmp/w3.safetensors"; then bad "init: seeds 7 and 8 give the same file"; else ok; fi
for kind in default kaiming_normal xavier_uniform; do
    check "init --init $kind" "$lenet5" init --init "$kind" --save "$tmp/w_$kind.safetensors"
done
wf="$tmp/wf.safetensors"
check "init flat" "$flat" init --save "$wf"
"$B/cnnc" --emit=params "$tmp/flat.cnn" | cut -d' ' -f1 >"$tmp/want_names"
$fx names "$wf" | grep -v '\.num_batches_tracked$' >"$tmp/names"
if cmp -s "$tmp/want_names" "$tmp/names"; then ok; else bad "init flat: tensor names differ"; fi
# ...plus PyTorch's batchnorm step counter, so that load_state_dict(strict=True) takes the file
if $fx names "$wf" | grep -q '^bn0\.num_batches_tracked$'; then ok; else bad "init flat: no bn0.num_batches_tracked"; fi
wt="$tmp/wt.safetensors"
check "init tiny" "$tiny" init --save "$wt"
# An output that is not a regular file (a FIFO here, /dev/null alike) is written in place,
# never replaced by the rename of an atomic write.
mkfifo "$tmp/fifo"
timeout 20 cat "$tmp/fifo" >"$tmp/from_fifo" &
reader=$!
check "init into a FIFO" "$tiny" init --save "$tmp/fifo"
wait $reader
[ -p "$tmp/fifo" ] && [ "$(wc -c <"$tmp/from_fifo")" -gt 8 ] && cmp -s "$tmp/from_fifo" "$wt" && ok ||
    bad "init --save FIFO: the FIFO was replaced or got other bytes"

# ---- forward -------------------------------------------------------------------------------

$fx input "$tmp/x3.safetensors" F32 input 3 1 28 28
$fx input "$tmp/x3d.safetensors" F64 input 3 1 28 28
$fx input "$tmp/x1.safetensors" F32 input 1 1 28 28
check "forward 3" "$lenet5" forward --weights "$w" --input "$tmp/x3.safetensors" --output "$tmp/y3.safetensors"
[ "$($fx shape "$tmp/y3.safetensors" output)" = "3, 10" ] && ok || bad "forward 3: output shape"
check "forward 1" "$lenet5" forward --weights "$w" --input "$tmp/x1.safetensors" --output "$tmp/y1.safetensors"
[ "$($fx shape "$tmp/y1.safetensors" output)" = "1, 10" ] && ok || bad "forward 1: output shape"
check "forward F64" "$lenet5" forward --weights "$w" --input "$tmp/x3d.safetensors" --output "$tmp/y3d.safetensors"
if cmp -s "$tmp/y3.safetensors" "$tmp/y3d.safetensors"; then ok; else bad "forward: F64 input gives other output"; fi
$fx input "$tmp/xt.safetensors" F32 input 5 3 8 8
check "forward tiny 5 (batch 2)" "$tiny" forward --weights "$wt" --input "$tmp/xt.safetensors" --output "$tmp/yt.safetensors"
[ "$($fx shape "$tmp/yt.safetensors" output)" = "5, 5" ] && ok || bad "forward tiny: output shape"
$fx input "$tmp/xf.safetensors" F32 input 6 12
check "forward flat" "$flat" forward --weights "$wf" --input "$tmp/xf.safetensors" --output "$tmp/yf.safetensors"
[ "$($fx shape "$tmp/yf.safetensors" output)" = "6, 3" ] && ok || bad "forward flat: output shape"

# ---- predict -------------------------------------------------------------------------------

$fx pgm "$tmp/grad.pgm" 28 28
check "predict pgm" "$lenet5" predict --weights "$w" "$tmp/grad.pgm"
[ "$(grep -c "" "$tmp/stdout")" = 1 ] && [ "$(tr -cd , <"$tmp/stdout" | wc -c)" = 4 ] && ok ||
    bad "predict pgm: want one line with 5 classes: $(cat "$tmp/stdout")"
expect "predict pgm: format" "^$tmp/grad.pgm: [0-9] 0\.[0-9]\{4\}, " "$tmp/stdout"
if [ -r "$fashion" ]; then
    $fx idx "$fashion" 0 "$tmp/fashion0.pgm"
    printf '%s\n' T-shirt/top Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag 'Ankle boot' >"$tmp/labels.txt"
    check "predict fashion" "$lenet5" predict --weights "$w" --labels "$tmp/labels.txt" "$tmp/fashion0.pgm" "$tmp/grad.pgm"
    [ "$(grep -c "" "$tmp/stdout")" = 2 ] && [ "$(head -1 "$tmp/stdout" | tr -cd , | wc -c)" = 4 ] && ok ||
        bad "predict fashion: want 2 lines of 5 classes: $(cat "$tmp/stdout")"
    expect "predict fashion: labels" "^$tmp/fashion0.pgm: [0-9] [A-Z][-/a-zA-Z ]* 0\.[0-9]\{4\}, " "$tmp/stdout"
else
    skip "predict fashion: $fashion missing (apt-get install dataset-fashion-mnist)"
fi
check "predict --top 3" "$lenet5" predict --weights "$w" --top 3 "$tmp/grad.pgm"
[ "$(tr -cd , <"$tmp/stdout" | wc -c)" = 2 ] && ok || bad "predict --top 3: $(cat "$tmp/stdout")"
$fx pgm "$tmp/big.pgm" 32 32
check "predict --resize" "$lenet5" predict --weights "$w" --resize "$tmp/big.pgm"
$fx pgm "$tmp/small.pgm" 8 8
check "predict tiny (grey to RGB, 3 images, batch 2)" "$tiny" predict --weights "$wt" "$tmp/small.pgm" "$tmp/small.pgm" "$tmp/small.pgm"
[ "$(grep -c "" "$tmp/stdout")" = 3 ] && ok || bad "predict tiny: want 3 lines: $(cat "$tmp/stdout")"

# ---- --threads: every command that computes takes it (same results) -------------------------

for c in predict bench forward train eval grad; do
    check "$c --help" "$lenet5" "$c" --help
    expect "$c --help lists --threads" "^  --threads T" "$tmp/stdout"
done
check "predict --threads 1" "$lenet5" predict --threads 1 --weights "$w" --top 3 "$tmp/grad.pgm"
cp "$tmp/stdout" "$tmp/pred_t1"
check "predict --threads=2" "$lenet5" predict --weights "$w" --threads=2 --top 3 "$tmp/grad.pgm"
cmp -s "$tmp/stdout" "$tmp/pred_t1" && ok || bad "predict: --threads changes the result"
check "forward --threads 2" "$lenet5" forward --threads 2 --weights "$w" --input "$tmp/x3.safetensors" --output "$tmp/y3t.safetensors"
cmp -s "$tmp/y3.safetensors" "$tmp/y3t.safetensors" && ok || bad "forward: --threads changes the output"

# ---- bench ---------------------------------------------------------------------------------

check "bench" "$lenet5" bench --repeat 2
expect "bench: batch 1" "^batch 1 .*ms per call.*images/s.*GFLOP/s" "$tmp/stdout"
expect "bench: batch 64" "^batch 64 " "$tmp/stdout"
check "bench --csv" "$lenet5" bench --repeat 2 --csv --weights "$w" --threads 2
grep -q -E '^[0-9.]+,[0-9.]+,[0-9.]+,[0-9.]+$' "$tmp/stdout" && [ "$(grep -c "" "$tmp/stdout")" = 1 ] && ok ||
    bad "bench --csv: $(cat "$tmp/stdout")"
check "bench --train" "$lenet5" bench --train --repeat 2 --threads 1
expect "bench --train: step line" "^train step (cross_entropy, adam, lr 0.002) .*ms per step.*images/s.*GFLOP/s" "$tmp/stdout"
expect "bench --train: batch" "training batch 64" "$tmp/stdout"
check "bench --train --csv" "$lenet5" bench --train --batch 8 --repeat 3 --csv --weights "$w"
grep -q -E '^[0-9.]+,[0-9.]+,[0-9.]+,8,adam,0.00200000009,0,0,0,0.8999[0-9]*,0.999[0-9]*,[0-9.e-]+,cross_entropy,0$' "$tmp/stdout" &&
    [ "$(grep -c "" "$tmp/stdout")" = 1 ] && ok || bad "bench --train --csv: $(cat "$tmp/stdout")"

# ---- bad input (status 1) -------------------------------------------------------------------

y="$out/y.safetensors"
printf 'not an image\n' >"$tmp/text.png"
head -c 1000 "$w" >"$tmp/truncated.safetensors"
$fx reshape "$w" "$tmp/wrong_shape.safetensors" conv1.weight 16 6 25
$fx retype "$w" "$tmp/wrong_dtype.safetensors" linear0.bias I32
$fx input "$tmp/x_named.safetensors" F32 images 2 1 28 28
$fx input "$tmp/x_shape.safetensors" F32 input 2 1 28 27
$fx input "$tmp/x_empty.safetensors" F32 input 0 1 28 28
printf 'a\nb\n' >"$tmp/short_labels.txt"
check_fail "missing weights file" 1 "$lenet5" forward --weights "$tmp/none.safetensors" --input "$tmp/x1.safetensors" --output "$y"
check_fail "truncated weights" 1 "$lenet5" forward --weights "$tmp/truncated.safetensors" --input "$tmp/x1.safetensors" --output "$y"
check_fail "wrong-shape tensor" 1 "$lenet5" forward --weights "$tmp/wrong_shape.safetensors" --input "$tmp/x1.safetensors" --output "$y"
expect "wrong-shape message" "conv1.weight.*\[16, 6, 25\].*\[16, 6, 5, 5\]" "$tmp/stderr"
check_fail "wrong dtype" 1 "$lenet5" forward --weights "$tmp/wrong_dtype.safetensors" --input "$tmp/x1.safetensors" --output "$y"
expect "wrong dtype message" "linear0.bias.*I32" "$tmp/stderr"
check_fail "weights of another model" 1 "$lenet5" forward --weights "$wt" --input "$tmp/x1.safetensors" --output "$y"
check_fail "missing input tensor name" 1 "$lenet5" forward --weights "$w" --input "$tmp/x_named.safetensors" --output "$y"
expect "missing input message" "no tensor 'input'" "$tmp/stderr"
check_fail "wrong input shape" 1 "$lenet5" forward --weights "$w" --input "$tmp/x_shape.safetensors" --output "$y"
check_fail "empty input batch" 1 "$lenet5" forward --weights "$w" --input "$tmp/x_empty.safetensors" --output "$y"
check_fail "missing input file" 1 "$lenet5" forward --weights "$w" --input "$tmp/none.safetensors" --output "$y"
check_fail "weights as input" 1 "$lenet5" forward --weights "$w" --input "$w" --output "$y"
check_fail "unwritable output" 1 "$lenet5" forward --weights "$w" --input "$tmp/x1.safetensors" --output "$out/no/dir/y.safetensors"
check_fail "non-image file" 1 "$lenet5" predict --weights "$w" "$tmp/text.png"
check_fail "missing image" 1 "$lenet5" predict --weights "$w" "$tmp/none.png"
check_fail "wrong-size image" 1 "$lenet5" predict --weights "$w" "$tmp/big.pgm"
expect "wrong-size message" "32x32.*28x28" "$tmp/stderr"
check_fail "predict truncated weights" 1 "$lenet5" predict --weights "$tmp/truncated.safetensors" "$tmp/grad.pgm"
check_fail "labels of the wrong count" 1 "$lenet5" predict --weights "$w" --labels "$tmp/short_labels.txt" "$tmp/grad.pgm"
check_fail "predict on a flat model" 1 "$flat" predict --weights "$wf" "$tmp/grad.pgm"
check_fail "bench wrong weights" 1 "$lenet5" bench --repeat 1 --weights "$tmp/wrong_shape.safetensors"
check_fail "init into a missing directory" 1 "$lenet5" init --save "$out/no/dir/w.safetensors"

# ---- bad usage (status 2) -------------------------------------------------------------------

check_fail "no command" 2 "$lenet5"
check_fail "--threads 0" 2 "$lenet5" forward --threads 0 --weights "$w" --input "$tmp/x1.safetensors" --output "$y"
check_fail "--threads without value" 2 "$lenet5" predict --weights "$w" "$tmp/grad.pgm" --threads
check_fail "unknown command" 2 "$lenet5" bogus
check_fail "unknown command (option)" 2 "$lenet5" --bogus
check_fail "unknown option" 2 "$lenet5" forward --weights "$w" --input "$tmp/x1.safetensors" --output "$y" --bogus
check_fail "missing option value" 2 "$lenet5" forward --input "$tmp/x1.safetensors" --output "$y" --weights
check_fail "missing required option" 2 "$lenet5" forward --weights "$w" --input "$tmp/x1.safetensors"
check_fail "init without --save" 2 "$lenet5" init --seed 1
check_fail "init bad seed" 2 "$lenet5" init --seed abc --save "$out/w.safetensors"
check_fail "init bad kind" 2 "$lenet5" init --init orthogonal --save "$out/w.safetensors"
check_fail "predict without images" 2 "$lenet5" predict --weights "$w"
check_fail "predict bad --top" 2 "$lenet5" predict --weights "$w" --top 0 "$tmp/grad.pgm"
check_fail "bench bad --repeat" 2 "$lenet5" bench --repeat 0
check_fail "bench bad --threads" 2 "$lenet5" bench --threads x
check_fail "bench --train batch 0" 2 "$lenet5" bench --train --batch 0
check_fail "bench --train batch over the compiled" 2 "$lenet5" bench --train --batch 65
check_fail "bench --batch without --train" 2 "$lenet5" bench --batch 8
check "build tiny --no-train" "$B/cnnc" --batch 2 --no-train "$tmp/tiny.cnn" -o "$tmp/tiny_infer"
check_fail "bench --train without training code" 2 "$tmp/tiny_infer" bench --train
check_fail "info extra argument" 2 "$lenet5" info extra
check_fail "flag with a value" 2 "$lenet5" info --tensors=yes

echo "cli: $pass passed, $fail failed, $skipped skipped"
[ "$fail" = 0 ]
