#!/bin/sh
# tests/train.test.sh: the `train` and `eval` commands of compiled programs (runtime/train.c and
# its parts). On small synthetic IDX datasets made here (tests/torch/train_ref.py):
#   (a) three optimizer steps (sgd with momentum, nesterov and weight decay; adam; adamw; clipping,
#       accumulation, label smoothing, freezing) match torch.optim on a hand-written twin;
#   (b) a run stopped after epoch 1 and resumed ends bit-identical to an uninterrupted run;
#   (c) bad data and a diverging loss end with one error line and status 1, bad usage with 2;
#   (d) the lr of every epoch in log.csv matches torch.optim.lr_scheduler;
# plus --init-from, eval, the SVG files and the output format.
# Usage: sh tests/train.test.sh /abs/build/dir
B=${1:?usage: sh tests/train.test.sh BUILD_DIR}
top=${CNNC_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
PY=/usr/bin/python3
ref="$PY $top/tests/torch/train_ref.py"
tmp=$(mktemp -d /tmp/cnnc-train.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
skipped=0
ok() { pass=$((pass + 1)); }
# expect_line NAME PATTERN FILE: FILE has a line matching PATTERN.
expect_line() { if grep -q -- "$2" "$3"; then ok; else bad "$1: no line matching '$2' in $(cat "$3")"; fi; }
# part NAME: true when the part runs. TRAIN_ONLY="optim sched" runs only those parts (for
# quick runs, e.g. by tests/mutants); the others print SKIP and are counted as skipped.
# Parts: optim reference resume output bad sched.
part() {
    case " ${TRAIN_ONLY:-$1} " in
    *" $1 "*) return 0 ;;
    esac
    echo "SKIP train part $1 (not in TRAIN_ONLY)"
    skipped=$((skipped + 1))
    return 1
}
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}

# check NAME COMMAND...: exit 0.
check() {
    name=$1
    shift
    if "$@" >"$tmp/stdout" 2>"$tmp/stderr"; then ok; else
        bad "$name: exit $? ($(tail -3 "$tmp/stdout" "$tmp/stderr"))"
    fi
}

# check_fail NAME STATUS PATTERN COMMAND...: exit STATUS, exactly one stderr line, matching
# "error" and PATTERN.
check_fail() {
    name=$1
    want=$2
    pattern=$3
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

# pyc NAME ARGS...: queues a train_ref.py check; run_checks runs them all in one Python
# process at the end (importing torch takes seconds).
: >"$tmp/checks"
nchecks=0
pyc() {
    name=$1
    shift
    line=""
    for arg in "$@"; do
        line="$line '$(printf '%s' "$arg" | sed "s/'/'\\\\''/g")'"
    done
    printf '%s\t%s\n' "$name" "$line" >>"$tmp/checks"
    nchecks=$((nchecks + 1))
}
run_checks() {
    $ref batch "$tmp/checks" >"$tmp/results" 2>&1
    while IFS= read -r r; do
        case $r in
        "PASS "*) ok ;;
        "FAIL "*) bad "${r#FAIL }" ;;
        esac
    done <"$tmp/results"
    got=$(grep -c '^\(PASS\|FAIL\) ' "$tmp/results")
    if [ "$got" != "$nchecks" ]; then
        bad "train_ref.py batch ran $got of $nchecks checks: $(tail -5 "$tmp/results")"
    fi
}

$PY -c 'import torch, numpy' 2>/dev/null || { echo "train: $PY cannot import torch and numpy"; exit 1; }

# Programs are linked with the sanitizers when the runtime was built with them.
if [ "${SANITIZE:-0}" = 1 ]; then
    cat >"$tmp/cc-san" <<EOF
#!/bin/sh
exec ${CC:-clang} "\$@" -fsanitize=address,undefined -fno-sanitize=pointer-overflow -fno-sanitize-recover=all -O0
EOF
    chmod +x "$tmp/cc-san"
    CC="$tmp/cc-san"
    export CC
fi

cat >"$tmp/tinyconv.cnn" <<'EOF'
model tinyconv(classes = 3) {
    input [1, 6, 6]
    conv(2, 3); tanh
    flatten
    linear(classes)
}
train {
    epochs = 3
    batch = 8
    optimizer = sgd(lr = 0.1)
}
EOF
# Dropout, batchnorm and pooling: every random stream and running statistic matters for (b).
cat >"$tmp/drop.cnn" <<'EOF'
model drop(classes = 3) {
    input [1, 6, 6]
    conv(3, 3, pad = 1); batchnorm; relu; maxpool(2)
    flatten
    dropout(0.3)
    linear(classes)
}
train {
    epochs = 2
    batch = 8
    optimizer = adam(lr = 0.01)
    schedule = step(1, gamma = 0.5)
    augment = [hflip, random_crop(pad = 1), rotate(10), translate(0.1), erase]
}
EOF
# tinyconv with a parameter group in its train section (checked against --lr-for below).
sed 's/optimizer = sgd(lr = 0.1)/optimizer = sgd(lr = 0.2, momentum = 0.9)\n    lr_for = group(conv0, lr = 0.01)/' \
    "$tmp/tinyconv.cnn" >"$tmp/tinylr.cnn"
# and with cosine's t_max and the torchvision augmentations in its train section.
sed 's/optimizer = sgd(lr = 0.1)/optimizer = sgd(lr = 0.1)\n    schedule = cosine(min_lr = 0.001, t_max = 3)\n    augment = [random_crop(6, pad = 1), color_jitter(0.4, 0.4), grayscale, random_resized_crop(scale = [0.5, 1]), affine(10, 0.1, [0.9, 1.1], 5)]/' \
    "$tmp/tinyconv.cnn" >"$tmp/tinycos.cnn"
# Batchnorm's running statistics after training steps against torch.nn.BatchNorm2d.
cat >"$tmp/bnnet.cnn" <<'EOF'
model bnnet(classes = 3) {
    input [1, 6, 6]
    conv(2, 3); batchnorm(momentum = 0.2); tanh
    flatten
    linear(classes)
}
EOF
# Dropout in training against PyTorch with the mask the program drew (built with --batch 1).
cat >"$tmp/dropnet.cnn" <<'EOF'
model dropnet {
    input [10]
    linear(24); dropout(0.3)
    linear(3)
}
EOF
# and with a warm-up, and plateau in mode max, in the train section.
sed 's/optimizer = sgd(lr = 0.1)/optimizer = sgd(lr = 0.1)\n    schedule = step(2, gamma = 0.5)\n    warmup = linear(3, start_factor = 0.1)/' \
    "$tmp/tinyconv.cnn" >"$tmp/tinywarm.cnn"
sed 's/optimizer = sgd(lr = 0.1)/optimizer = sgd(lr = 0.01)\n    schedule = plateau(0.5, 1, mode = max)/' \
    "$tmp/tinyconv.cnn" >"$tmp/tinyplat.cnn"
for m in tinyconv drop bnnet dropnet tinylr tinycos tinywarm tinyplat; do
    bflag=""
    [ "$m" = dropnet ] && bflag="--batch 1"
    [ "$m" = bnnet ] && bflag="--batch 8"
    if ! "$B/cnnc" "$tmp/$m.cnn" -o "$tmp/$m" $bflag >"$tmp/cc.log" 2>&1; then
        echo "FAIL: cannot build $m: $(tail -5 "$tmp/cc.log")"
        echo "train: 0 passed, 1 failed"
        exit 1
    fi
done
tiny="$tmp/tinyconv"
drop="$tmp/drop"
# tinyconv at batch 16 runs in batch slices (2 of up to 8 images: no op couples the images).
tinys="$tmp/tinys"
if ! "$B/cnnc" "$tmp/tinyconv.cnn" -o "$tinys" --batch 16 >"$tmp/cc.log" 2>&1 ||
    ! "$B/cnnc" --emit=plan --train "$tmp/tinyconv.cnn" --batch 16 | grep -q "runs as 2 slices of up to 8 images"; then
    echo "FAIL: tinyconv at batch 16 does not build in 2 batch slices: $(tail -5 "$tmp/cc.log")"
    echo "train: 0 passed, 1 failed"
    exit 1
fi
# A checkpoint without one tensor of tinyconv's (for --init-from's empty-match error).
$PY -c "import sys; sys.path.insert(0, sys.argv[1]); import numpy as np, train_ref
train_ref.write_st(sys.argv[2], {'other.weight': np.zeros((2, 2), 'f4')})" "$top/tests/torch" "$tmp/none-w.safetensors"

mkdir -p "$tmp/d12" "$tmp/d24" "$tmp/d" "$tmp/d8x8"
$ref data "$tmp/d12" 12 8 6 6 3 1        # 12 images: 3 steps of batch 4
$ref data "$tmp/d24" 24 8 6 6 3 6        # 24 images: 2 steps of batch 12 (2 slices of 6 each)
$ref data "$tmp/d" 120 40 6 6 3 2
$ref data "$tmp/d8x8" 40 10 8 8 3 3
$ref weights "$tmp/w0.safetensors" 7
$ref weights "$tmp/wrong.safetensors" 7 --wrong

expect_line() { if grep -q -- "$2" "$3"; then ok; else bad "$1: no line matching '$2' in $(cat "$3")"; fi; }
if part optim; then
# ---- (a) optimizers against torch.optim ----------------------------------------------------

# optim LABEL "TRAIN FLAGS" "REFERENCE FLAGS"
nrun=0
optim() {
    nrun=$((nrun + 1))
    run="$tmp/run$nrun"
    if "$tiny" train --data "$tmp/d12" --epochs 1 --no-shuffle --batch 4 --init-from "$tmp/w0.safetensors" \
        --save "$run" --quiet $2 >"$tmp/stdout" 2>"$tmp/stderr"; then
        pyc "optim $1" optim "$run" "$tmp/d12" "$tmp/w0.safetensors" --label "$1" --batch 4 $3
    else
        bad "optim $1: train failed: $(cat "$tmp/stderr")"
    fi
}
optim "sgd" "--optimizer sgd --lr 0.2" "--optimizer sgd --lr 0.2"
optim "sgd momentum nesterov wd" "--optimizer sgd --lr 0.1 --momentum 0.9 --nesterov --weight-decay 0.01" \
    "--optimizer sgd --lr 0.1 --momentum 0.9 --nesterov --wd 0.01"
optim "sgd momentum" "--optimizer sgd --lr 0.1 --momentum 0.8" "--optimizer sgd --lr 0.1 --momentum 0.8"
optim "adam" "--optimizer adam --lr 0.01" "--optimizer adam --lr 0.01"
optim "adam wd" "--optimizer adam --lr 0.01 --weight-decay 0.1" "--optimizer adam --lr 0.01 --wd 0.1"
optim "adamw" "--optimizer adamw --lr 0.01 --weight-decay 0.05" "--optimizer adamw --lr 0.01 --wd 0.05"
optim "adamw default decay" "--optimizer adamw --lr 0.01" "--optimizer adamw --lr 0.01 --wd 0.01"
optim "clip" "--optimizer sgd --lr 0.5 --momentum 0.9 --clip-grad-norm 0.05" \
    "--optimizer sgd --lr 0.5 --momentum 0.9 --clip 0.05"
optim "accumulate" "--optimizer sgd --lr 0.3 --momentum 0.5 --accumulate 2" \
    "--optimizer sgd --lr 0.3 --momentum 0.5 --accumulate 2"
optim "label smoothing" "--optimizer adam --lr 0.01 --label-smoothing 0.1" \
    "--optimizer adam --lr 0.01 --smoothing 0.1"
optim "class weights" "--optimizer sgd --lr 0.2 --class-weights 1,2.5,0.5" \
    "--optimizer sgd --lr 0.2 --class-weights 1,2.5,0.5"
optim "freeze" "--optimizer adam --lr 0.01 --freeze conv0" "--optimizer adam --lr 0.01 --freeze conv0"
pyc "freeze keeps conv0" unchanged "$run/last.safetensors" "$tmp/w0.safetensors" conv0
# Per-parameter-group learning rates against torch.optim's parameter groups.
optim "lr-for sgd" "--optimizer sgd --lr 0.2 --momentum 0.9 --lr-for conv0=0.01" \
    "--optimizer sgd --lr 0.2 --momentum 0.9 --lr-for conv0=0.01"
lrflag=$run
check "lr_for in the train section" "$tmp/tinylr" train --data "$tmp/d12" --epochs 1 --no-shuffle --batch 4 \
    --init-from "$tmp/w0.safetensors" --save "$tmp/lrsec" --quiet
pyc "lr_for section equals --lr-for" same "$lrflag/last.safetensors" "$tmp/lrsec/last.safetensors"
optim "lr-for adam, longest prefix" "--optimizer adam --lr 0.01 --lr-for linear0=0.05 --lr-for linear0.bias=0.001" \
    "--optimizer adam --lr 0.01 --lr-for linear0=0.05 --lr-for linear0.bias=0.001"
# Batch slices: steps of 12 images in 2 slices of 6 (tinys), against the same torch.optim steps.
# The fused step (adam), the gradient block with accumulation over steps (slice 0 adds into it),
# and the loss's mean over slices with class weights and label smoothing.
optim_s() {
    nrun=$((nrun + 1))
    run="$tmp/run$nrun"
    if "$tinys" train --data "$tmp/d24" --epochs 1 --no-shuffle --batch 12 --init-from "$tmp/w0.safetensors" \
        --save "$run" --quiet $2 >"$tmp/stdout" 2>"$tmp/stderr"; then
        pyc "sliced optim $1" optim "$run" "$tmp/d24" "$tmp/w0.safetensors" --label "sliced $1" --batch 12 $3
    else
        bad "sliced optim $1: train failed: $(cat "$tmp/stderr")"
    fi
}
optim_s "adam" "--optimizer adam --lr 0.01" "--optimizer adam --lr 0.01"
optim_s "accumulate" "--optimizer sgd --lr 0.3 --momentum 0.5 --accumulate 2" \
    "--optimizer sgd --lr 0.3 --momentum 0.5 --accumulate 2"
optim_s "class weights, smoothing" "--optimizer sgd --lr 0.2 --class-weights 1,2.5,0.5 --label-smoothing 0.1" \
    "--optimizer sgd --lr 0.2 --class-weights 1,2.5,0.5 --smoothing 0.1"
# onecycle with momentum cycling (SGD's momentum, Adam's beta1) against OneCycleLR(cycle_momentum=True).
optim "onecycle cycle_momentum sgd" "--optimizer sgd --lr 0.1 --momentum 0.9 --schedule onecycle(0.5,cycle_momentum=true)" \
    "--optimizer sgd --lr 0.1 --momentum 0.9 --onecycle 0.5"
optim "onecycle cycle_momentum adam" "--optimizer adam --schedule onecycle(0.05,cycle_momentum=true)" \
    "--optimizer adam --lr 0.01 --onecycle 0.05"

fi
if part reference; then
# batchnorm: 3 steps in training mode, then weights, running mean and (unbiased) variance with
# momentum 0.2, and num_batches_tracked, all against PyTorch
$ref weights "$tmp/wbn.safetensors" 7 --bn
if "$tmp/bnnet" train --data "$tmp/d12" --epochs 1 --no-shuffle --batch 4 --init-from "$tmp/wbn.safetensors" \
    --save "$tmp/bnrun" --quiet --optimizer sgd --lr 0.2 >"$tmp/stdout" 2>"$tmp/stderr"; then
    pyc "batchnorm running statistics" optim "$tmp/bnrun" "$tmp/d12" "$tmp/wbn.safetensors" --label bn --model bn \
        --batch 4 --optimizer sgd --lr 0.2
else
    bad "batchnorm train failed: $(cat "$tmp/stderr")"
fi
mkdir -p "$tmp/dw"
pyc "dropout in training vs PyTorch" dropout "$tmp/dropnet" "$tmp/dw"
check_fail "grad bad --dropout-seed" 2 "--dropout-seed" "$tmp/dropnet" grad --weights "$tmp/w0.safetensors" \
    --input "$tmp/none.safetensors" --output "$tmp/g.safetensors" --dropout-seed -3

fi
if part resume; then
# ---- (b) resume ----------------------------------------------------------------------------

check "uninterrupted" "$drop" train --data "$tmp/d" --epochs 2 --val-split 0.2 --schedule 'plateau(patience=0)' \
    --save "$tmp/full" --seed 5 --quiet
check "first epoch" "$drop" train --data "$tmp/d" --epochs 1 --val-split 0.2 --schedule 'plateau(patience=0)' \
    --save "$tmp/part" --seed 5 --quiet
check "resumed" "$drop" train --data "$tmp/d" --epochs 2 --val-split 0.2 --schedule 'plateau(patience=0)' \
    --save "$tmp/part" --seed 5 --resume "$tmp/part/last.safetensors"
pyc "resume bit-identical" same "$tmp/full/last.safetensors" "$tmp/part/last.safetensors"
if [ "$(wc -l <"$tmp/part/log.csv")" = 3 ]; then ok; else bad "resumed log.csv: $(cat "$tmp/part/log.csv")"; fi
expect_line "resume message" "resuming from .* after epoch 1" "$tmp/stdout"
# NAME_train_step_update (used without accumulation and clipping) against train_step + update.
check "unfused" env CNNC_TRAIN_UNFUSED=1 "$drop" train --data "$tmp/d" --epochs 2 --val-split 0.2 \
    --schedule 'plateau(patience=0)' --save "$tmp/unfused" --seed 5 --quiet
pyc "fused step bit-identical" same "$tmp/full/last.safetensors" "$tmp/unfused/last.safetensors"
# The data pipeline prepares the next batch on a second thread: results must not depend on
# the OpenMP thread count (augmentation streams are per batch).
check "two threads" "$drop" train --data "$tmp/d" --epochs 2 --val-split 0.2 --schedule 'plateau(patience=0)' \
    --save "$tmp/threads2" --seed 5 --quiet --threads 2
check "one thread" "$drop" train --data "$tmp/d" --epochs 2 --val-split 0.2 --schedule 'plateau(patience=0)' \
    --save "$tmp/threads1" --seed 5 --quiet --threads 1
pyc "threads 1 and 2 bit-identical" same "$tmp/threads1/last.safetensors" "$tmp/threads2/last.safetensors"
# Training accuracy comes from the training forward's logits. With a learning rate too small to
# move a weight, and a test split equal to the training split, the epoch's training accuracy
# (over the whole epoch, every batch) must equal the test accuracy evaluated after it.
mkdir -p "$tmp/same"
$ref data "$tmp/same" 40 8 6 6 3 4
cp "$tmp/same/train-images-idx3-ubyte" "$tmp/same/t10k-images-idx3-ubyte"
cp "$tmp/same/train-labels-idx1-ubyte" "$tmp/same/t10k-labels-idx1-ubyte"
check "train accuracy run" "$tiny" train --data "$tmp/same" --epochs 1 --batch 8 --optimizer sgd --lr 1e-30 \
    --save "$tmp/sameacc" --quiet
awk -F, 'NR == 2 { if ($3 == $5 && $3 > 0) ok = 1 } END { exit !ok }' "$tmp/sameacc/log.csv" && ok ||
    bad "train accuracy != test accuracy on the same images and weights: $(cat "$tmp/sameacc/log.csv")"
# The same with batch slices (16, 16 and 8 images: each slice counts its own hits), and slices
# give the same weights on 1 and 2 threads.
check "train accuracy run, batch slices" "$tinys" train --data "$tmp/same" --epochs 1 --batch 16 --optimizer sgd \
    --lr 1e-30 --save "$tmp/sameacc_s" --quiet
awk -F, 'NR == 2 { if ($3 == $5 && $3 > 0) ok = 1 } END { exit !ok }' "$tmp/sameacc_s/log.csv" && ok ||
    bad "sliced train accuracy != test accuracy on the same images and weights: $(cat "$tmp/sameacc_s/log.csv")"
for t in 1 2; do
    check "batch slices, $t threads" "$tinys" train --data "$tmp/d" --epochs 1 --batch 16 --seed 5 --quiet \
        --save "$tmp/slices$t" --threads $t
done
pyc "batch slices: threads 1 and 2 bit-identical" same "$tmp/slices1/last.safetensors" "$tmp/slices2/last.safetensors"
# A different seed must give different weights (the streams do depend on it).
check "other seed" "$drop" train --data "$tmp/d" --epochs 2 --val-split 0.2 --schedule 'plateau(patience=0)' \
    --save "$tmp/other" --seed 6 --quiet
pyc "seeds 5 and 6 differ" differ "$tmp/full/last.safetensors" "$tmp/other/last.safetensors"

fi
if part output; then
# ---- output format, logs, plots, eval ------------------------------------------------------

check "train plain output" "$tiny" train --data "$tmp/d" --epochs 3 --save "$tmp/fmt" --lr 0.3 --val-split 0.25
expect_line "epoch line" '^epoch 2/3  train loss [0-9.]* acc [0-9.]*%  val loss [0-9.]* acc [0-9.]*%  lr 0.3  [0-9]* img/s  [0-9.]* s$' \
    "$tmp/stdout"
if tail -1 "$tmp/stdout" | grep -q '^test accuracy: [0-9]*\.[0-9][0-9]%$'; then ok; else
    bad "last line: $(tail -1 "$tmp/stdout")"; fi
expect_line "validation split" "^training tinyconv (119 parameters) on .*: 90 images, validation 30 images, batch 8, 3 epochs" \
    "$tmp/stdout"
acc=$(tail -1 "$tmp/stdout" | sed 's/test accuracy: \([0-9]*\).*/\1/')
if [ "$acc" -ge 60 ]; then ok; else bad "tinyconv learned only $acc% on an easy dataset"; fi
for f in last.safetensors best.safetensors log.csv curves.svg; do
    if [ -s "$tmp/fmt/$f" ]; then ok; else bad "no $f in the save directory"; fi
done
pyc "curves.svg" svg "$tmp/fmt/curves.svg" --curves 3
if [ "$(head -1 "$tmp/fmt/log.csv")" = "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds" ] &&
    [ "$(wc -l <"$tmp/fmt/log.csv")" = 4 ]; then ok; else bad "log.csv: $(cat "$tmp/fmt/log.csv")"; fi
check "quiet" "$tiny" train --data "$tmp/d" --epochs 1 --save "$tmp/q" --quiet
if [ "$(wc -l <"$tmp/stdout")" = 1 ]; then ok; else bad "--quiet printed: $(cat "$tmp/stdout")"; fi
# --save-every 2 over 5 epochs: epoch-2 and epoch-4, and epoch-4 holds the weights after epoch 4.
check "save every" "$tiny" train --data "$tmp/d" --epochs 5 --save "$tmp/se" --quiet --save-every 2
if [ -f "$tmp/se/epoch-2.safetensors" ] && [ -f "$tmp/se/epoch-4.safetensors" ] && ! [ -e "$tmp/se/epoch-5.safetensors" ] &&
    ! [ -e "$tmp/se/epoch-1.safetensors" ]; then ok; else bad "save every: $(ls "$tmp/se")"; fi
check "four epochs" "$tiny" train --data "$tmp/d" --epochs 4 --save "$tmp/se4" --quiet
pyc "epoch-4 is the weights after 4 epochs" same "$tmp/se/epoch-4.safetensors" "$tmp/se4/last.safetensors"
check_fail "save every bad" 2 "--save-every" "$tiny" train --data "$tmp/d" --save-every -1

check "eval" "$tiny" eval --weights "$tmp/fmt/best.safetensors" --data "$tmp/d" --plot "$tmp/cm.svg"
expect_line "eval accuracy" "accuracy [0-9.]*%" "$tmp/stdout"
expect_line "eval confusion" "confusion matrix" "$tmp/stdout"
expect_line "eval per class" "precision  *recall  *f1  *images" "$tmp/stdout"
cp "$tmp/stdout" "$tmp/eval.out"
pyc "eval metrics vs an independent count" evalcheck "$tmp/eval.out" "$tmp/fmt/best.safetensors" "$tmp/d"
# The trained model may be right on every image, where precision equals recall and the matrix is
# diagonal: the untrained weights make mistakes, and unequal ones.
check "eval untrained" "$tiny" eval --weights "$tmp/w0.safetensors" --data "$tmp/d"
cp "$tmp/stdout" "$tmp/eval0.out"
pyc "eval metrics of a poor model vs an independent count" evalcheck "$tmp/eval0.out" "$tmp/w0.safetensors" "$tmp/d" \
    --asymmetric
pyc "confusion svg" svg "$tmp/cm.svg" --cells 3 40
printf 'red\ngreen\nblue\n' >"$tmp/labels.txt"
check "eval labels train split" "$tiny" eval --weights "$tmp/fmt/last.safetensors" --data "$tmp/d" --split train \
    --labels "$tmp/labels.txt"
expect_line "eval class names" "^green " "$tmp/stdout"
printf 'red\n' >"$tmp/short.txt"
check_fail "eval short labels" 1 "1 class names" "$tiny" eval --weights "$tmp/fmt/last.safetensors" --data "$tmp/d" \
    --labels "$tmp/short.txt"

check "init-from with a wrong shape" "$tiny" train --data "$tmp/d" --epochs 1 --save "$tmp/if" \
    --init-from "$tmp/wrong.safetensors"
expect_line "skipped line" "^skipped linear0.weight: shape \[5, 32\] in file, model has \[3, 32\]$" "$tmp/stdout"
check "augment, schedule, early stop" "$tiny" train --data "$tmp/d" --epochs 4 --save "$tmp/es" --lr 1e-9 \
    --augment 'hflip, vflip(p=0.3), random_crop(pad=2), rotate(30), translate(0.2), erase(p=1)' --early-stop 1 \
    --min-delta 0.5
expect_line "early stop message" "^early stop" "$tmp/stdout"
check "the new augmentations train" "$tiny" train --data "$tmp/d" --epochs 2 --save "$tmp/aug2" --quiet \
    --augment 'random_crop(6, pad=1), color_jitter(0.4, 0.4, 0.4, 0.1), grayscale(0.5), random_resized_crop(scale=[0.5, 1]), affine(15, 0.1, [0.8, 1.2], 10)'
# resize + center_crop: the train section's list equals the flag; it changes the run.
sed 's/optimizer = sgd(lr = 0.1)/optimizer = sgd(lr = 0.1)\n    augment = [resize(9), center_crop(6)]/' \
    "$tmp/tinyconv.cnn" >"$tmp/tinyrs.cnn"
if "$B/cnnc" "$tmp/tinyrs.cnn" -o "$tmp/tinyrs" >"$tmp/cc.log" 2>&1; then ok; else bad "cannot build tinyrs: $(tail -3 "$tmp/cc.log")"; fi
check "resize in the section" "$tmp/tinyrs" train --data "$tmp/d12" --epochs 1 --batch 4 --save "$tmp/rs1" --quiet \
    --init-from "$tmp/w0.safetensors"
check "resize as a flag" "$tiny" train --data "$tmp/d12" --epochs 1 --batch 4 --save "$tmp/rs2" --quiet \
    --init-from "$tmp/w0.safetensors" --augment 'resize(9), center_crop'
check "no augmentation" "$tiny" train --data "$tmp/d12" --epochs 1 --batch 4 --save "$tmp/rs3" --quiet \
    --init-from "$tmp/w0.safetensors" --augment none
pyc "resize: section equals flag" same "$tmp/rs1/last.safetensors" "$tmp/rs2/last.safetensors"
pyc "resize(9) changes the run" differ "$tmp/rs2/last.safetensors" "$tmp/rs3/last.safetensors"
# An image folder of other sizes is resized to the model's 6x6 and says so, once per split.
pgm() { { printf 'P5\n%d %d\n255\n' "$2" "$3"; head -c $(($2 * $3)) /dev/urandom; } >"$1"; }
mkdir -p "$tmp/imgf/a" "$tmp/imgf/b"
pgm "$tmp/imgf/a/1.pgm" 6 6; pgm "$tmp/imgf/a/2.pgm" 8 8; pgm "$tmp/imgf/b/1.pgm" 8 8; pgm "$tmp/imgf/b/2.pgm" 6 6
check "image folder resized" "$tiny" train --data "$tmp/imgf" --epochs 1 --batch 2 --save "$tmp/imgfo"
expect_line "resize line" "^$tmp/imgf (train): resizing 2 of 4 images from 8x8 to the model's 6x6 (bilinear)\$" "$tmp/stdout"
check "eval on the resized folder" "$tiny" eval --weights "$tmp/imgfo/last.safetensors" --data "$tmp/imgf"
expect_line "eval resize line" "^$tmp/imgf (test): resizing 2 of 4 images from 8x8 to the model's 6x6" "$tmp/stderr"
pgm "$tmp/imgf/b/3.pgm" 5 9
check "mixed sizes" "$tiny" train --data "$tmp/imgf" --epochs 1 --batch 2 --save "$tmp/imgfo"
expect_line "mixed resize line" "resizing 3 of 5 images from 8x8 and other sizes to the model's 6x6" "$tmp/stdout"
check "quiet: no resize line" "$tiny" train --data "$tmp/imgf" --epochs 1 --batch 2 --save "$tmp/imgfo" --quiet
if grep -q resizing "$tmp/stdout"; then bad "--quiet printed the resize line"; else ok; fi

fi
if part bad; then
# ---- (c) bad data, divergence, bad usage ---------------------------------------------------

for kind in magic truncated label; do
    rm -rf "$tmp/bad"
    cp -r "$tmp/d" "$tmp/bad"
    $ref bad "$tmp/bad" $kind
    case $kind in
    magic) pat="wrong magic" ;;
    truncated) pat="truncated" ;;
    label) pat="label 7 (image 5) is out of range" ;;
    esac
    check_fail "bad data: $kind" 1 "$pat" "$tiny" train --data "$tmp/bad" --epochs 1 --save "$tmp/o"
done
check_fail "image size" 1 "8x8.*6x6" "$tiny" train --data "$tmp/d8x8" --epochs 1 --save "$tmp/o"
check_fail "eval image size" 1 "8x8.*6x6" "$tiny" eval --weights "$tmp/w0.safetensors" --data "$tmp/d8x8"
check_fail "no dataset" 1 "" "$tiny" train --data "$tmp/none" --epochs 1 --save "$tmp/o"
check_fail "resize without center_crop" 2 "resize(8) makes the 6x6 input 8x8; follow it with center_crop" \
    "$tiny" train --data "$tmp/d" --epochs 1 --save "$tmp/o" --augment 'resize(8)'
check_fail "center_crop size" 2 "center_crop's size 5 is not the model's input 6x6" \
    "$tiny" train --data "$tmp/d" --epochs 1 --save "$tmp/o" --augment 'resize(8), center_crop(5)'
check_fail "resize size" 2 "resize's 'size' must be an integer from 1 to 4096, not 0" \
    "$tiny" train --data "$tmp/d" --epochs 1 --save "$tmp/o" --augment 'resize(0), center_crop'
check_fail "resize needs a size" 2 "resize needs its argument 'size'" \
    "$tiny" train --data "$tmp/d" --epochs 1 --save "$tmp/o" --augment 'resize, center_crop'
check_fail "diverging loss" 1 "\(loss is \(NaN\|infinite\)\|weights became non-finite in the update\|gradients are non-finite\) at epoch 1, step" "$tiny" train --data "$tmp/d" --epochs 2 \
    --lr 1e38 --optimizer sgd --save "$tmp/o"
check_fail "batch above the compiled one" 2 "cnnc --batch" "$tiny" train --data "$tmp/d" --batch 9
check_fail "no --data" 2 "--data" "$tiny" train --epochs 1
check_fail "bad optimizer" 2 "sgd, adam or adamw" "$tiny" train --data "$tmp/d" --optimizer rmsprop
check_fail "bad schedule" 2 "unknown schedule" "$tiny" train --data "$tmp/d" --schedule 'linear(3)'
check_fail "schedule argument" 2 "needs its argument 'every'" "$tiny" train --data "$tmp/d" --schedule step
check_fail "bad augment" 2 "unknown augmentation" "$tiny" train --data "$tmp/d" --augment 'hflip, mixup'
check_fail "random_crop size" 2 "random_crop's size 24 is not the model's input 6x6" "$tiny" train --data "$tmp/d" \
    --augment 'random_crop(24)'
check_fail "affine shear range" 2 "affine's 'shear' must be a number >= 0 and < 90, not 95" "$tiny" train --data "$tmp/d" --augment 'affine(shear=95)'
check_fail "color_jitter range" 2 "hue" "$tiny" train --data "$tmp/d" --augment 'color_jitter(hue=0.7)'
check_fail "random_resized_crop scale" 2 "scale = \[lo, hi\]" "$tiny" train --data "$tmp/d" \
    --augment 'random_resized_crop(scale=[0.5, 2])'
check_fail "bad freeze" 2 "matches no tensor" "$tiny" train --data "$tmp/d" --freeze conv9 --save "$tmp/o"
check_fail "freeze without value" 2 "needs a value" "$tiny" train --data "$tmp/d" --freeze
check_fail "lr-for no match" 2 "matches no tensor" "$tiny" train --data "$tmp/d" --lr-for conv9=0.1 --save "$tmp/o"
check_fail "lr-for no value" 2 "PREFIX=LR" "$tiny" train --data "$tmp/d" --lr-for conv0
check_fail "lr-for bad value" 2 "PREFIX=LR" "$tiny" train --data "$tmp/d" --lr-for conv0=-1
check_fail "lr-for empty prefix" 2 "PREFIX=LR" "$tiny" train --data "$tmp/d" --lr-for =0.1
check_fail "lr-for without value" 2 "needs a value" "$tiny" train --data "$tmp/d" --lr-for
check_fail "init-from matching nothing" 1 "initializes no tensor" "$tiny" train --data "$tmp/d" --epochs 1 \
    --init-from "$tmp/none-w.safetensors" --save "$tmp/o" --quiet
check "init-from matching nothing, --allow-empty" "$tiny" train --data "$tmp/d" --epochs 1 \
    --init-from "$tmp/none-w.safetensors" --allow-empty --save "$tmp/o" --quiet
check_fail "allow-empty alone" 2 "--init-from" "$tiny" train --data "$tmp/d" --allow-empty
check_fail "class weights count" 2 "2 numbers, the model 3 classes" "$tiny" train --data "$tmp/d" \
    --class-weights 1,2
check_fail "bad lr" 2 "--lr" "$tiny" train --data "$tmp/d" --lr -1
check_fail "bad limit" 2 "--limit" "$tiny" train --data "$tmp/d" --limit 0
# --limit N: the first N training images (the data set has 120), before --val-split's share.
if "$tiny" train --data "$tmp/d" --limit 50 --val-split 0.2 --epochs 1 --save "$tmp/lim" >"$tmp/stdout" 2>&1 &&
    grep -q ": 40 images, validation 10 images" "$tmp/stdout"; then ok; else
    bad "--limit 50 --val-split 0.2: want 40 + 10 images: $(head -2 "$tmp/stdout")"
fi
check_fail "resume missing" 1 "cannot open" "$tiny" train --data "$tmp/d" --resume "$tmp/none.safetensors" \
    --save "$tmp/o"
check_fail "resume plain weights" 1 "optim.m.conv0.weight" "$tiny" train --data "$tmp/d" \
    --resume "$tmp/w0.safetensors" --save "$tmp/o"

fi
if part sched; then
# ---- (d) schedules against torch.optim.lr_scheduler ----------------------------------------

# sched KIND "SCHEDULE FLAG" "REFERENCE ARGS" [EXTRA FLAGS]
sched() {
    if "$tiny" train --data "$tmp/d" --save "$tmp/s-$1" --quiet --optimizer sgd $4 --schedule "$2" \
        >"$tmp/stdout" 2>"$tmp/stderr"; then
        pyc "schedule $1" sched "$tmp/s-$1/log.csv" $3
    else
        bad "schedule $1: train failed: $(cat "$tmp/stderr")"
    fi
}
sched step 'step(2, gamma=0.5)' "step 2 0.5 --lr 0.1" "--lr 0.1 --epochs 6"
sched multistep 'multistep([2, 5], gamma=0.3)' "multistep 2 5 0.3 --lr 0.1" "--lr 0.1 --epochs 6"
sched exponential 'exponential(0.7)' "exponential 0.7 --lr 0.1" "--lr 0.1 --epochs 5"
sched cosine 'cosine(min_lr=0.001)' "cosine 0.001 --lr 0.1" "--lr 0.1 --epochs 7"
# A tiny lr keeps the validation loss flat, so the plateau rule reduces the lr.
sched plateau 'plateau(factor=0.5, patience=1)' "plateau 0.5 1 --lr 1e-7" "--lr 1e-7 --epochs 7"
# onecycle: 120 images, batch 8 -> 15 steps per epoch, lr of each epoch's last step.
sched onecycle 'onecycle(0.5)' "onecycle 0.5 --lr 1 --steps 15" "--epochs 4"
# The options: cosine's t_max (shorter than the run: the lr climbs back), onecycle's pct_start,
# plateau on the validation accuracy (mode max; it rises for a while, then stalls: on the
# falling loss the same rule would cut the lr at other epochs).
sched "cosine t_max" 'cosine(min_lr=0.001, t_max=3)' "cosine 0.001 --lr 0.1 --t-max 3" "--lr 0.1 --epochs 7"
sched "onecycle pct_start" 'onecycle(0.5, pct_start=0.5)' "onecycle 0.5 --lr 1 --steps 15 --pct-start 0.5" "--epochs 4"
sched "plateau max" 'plateau(factor=0.5, patience=1, mode=max)' "plateau 0.5 1 --lr 0.01 --mode max" \
    "--lr 0.01 --epochs 8"
if "$tmp/tinycos" train --data "$tmp/d" --save "$tmp/s-cos-section" --quiet --epochs 7 >"$tmp/stdout" 2>"$tmp/stderr"
then pyc "schedule cosine t_max from the train section" sched "$tmp/s-cos-section/log.csv" cosine 0.001 --lr 0.1 --t-max 3
else bad "schedule cosine t_max section: $(cat "$tmp/stderr")"; fi
# Linear warm-up before a schedule, as SequentialLR([LinearLR, S], milestones=[N]).
sched "warmup then step" 'step(2, gamma=0.5)' "step 2 0.5 --lr 0.1 --warmup 3 --warmup-factor 0.1" \
    "--lr 0.1 --epochs 8 --warmup 3 --warmup-factor 0.1"
sched "warmup then cosine" 'cosine(min_lr=0.001)' "cosine 0.001 --lr 0.1 --warmup 2" "--lr 0.1 --epochs 7 --warmup 2"
check_fail "warmup with onecycle" 2 "onecycle" "$tiny" train --data "$tmp/d" --schedule 'onecycle(0.5)' --warmup 2
check_fail "warmup factor range" 2 "--warmup-factor" "$tiny" train --data "$tmp/d" --warmup 2 --warmup-factor 2
for v in warm plat; do
    if "$tmp/tiny$v" train --data "$tmp/d" --save "$tmp/s-$v-section" --quiet --epochs 8 >"$tmp/stdout" 2>"$tmp/stderr"
    then :; else bad "schedule $v section: $(cat "$tmp/stderr")"; fi
done
pyc "schedule warm-up from the train section" sched "$tmp/s-warm-section/log.csv" step 2 0.5 --lr 0.1 --warmup 3 \
    --warmup-factor 0.1
pyc "schedule plateau mode max from the train section" sched "$tmp/s-plat-section/log.csv" plateau 0.5 1 --lr 0.01 \
    --mode max
check_fail "plateau mode word" 2 "min or max" "$tiny" train --data "$tmp/d" --schedule 'plateau(mode=3)'
check_fail "min as a number" 2 "not min or max" "$tiny" train --data "$tmp/d" --schedule 'step(max)'
check_fail "t_max range" 2 "t_max" "$tiny" train --data "$tmp/d" --schedule 'cosine(t_max=-1)'

fi
run_checks
echo "train: $pass passed, $fail failed, $skipped skipped"
[ "$fail" = 0 ]
