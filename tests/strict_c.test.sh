#!/bin/sh
# strict_c.test.sh: the generated C is clean for an embedded engineer's compiler settings, and
# its header's NAME_STACK_BYTES holds.
# 1. Every model of models/ and tests/models/ (each model of a file): the standalone program's
#    model C (NAME.c and NAME_train.c, with -fopenmp as cnnc builds them) and the --emit=c pair
#    (batch 1, the default; and --batch 4 for the small models of models/) compile with
#      -std=c99 -Wall -Wextra -pedantic -Wconversion -Wshadow -Wcast-qual -Wvla -Werror
#    under gcc and clang (-fsyntax-only: the same diagnostics, without code generation).
# 2. clang --analyze reports nothing on a few small models (inference and training C); the
#    training C of a few models also compiles warning-free at -O3 (gcc) and with -march=native
#    (gcc -O2 and clang -fsyntax-only: the kernels' paths for this machine's vectors).
# 3. Stack: the --emit=c pair of every model compiled with gcc -O2 -fstack-usage
#    -fcallgraph-info=su (and of the small models of models/ with clang -O2 -fstack-usage): no
#    dynamic frame (VLA, alloca), and the deepest call chain is at most the header's
#    NAME_STACK_BYTES (tests/strict/stack_check.py).
# The generated code is the same under the sanitizers: the sanitizer half skips this script.
# STRICT_MODELS="lenet5 cov_conv" limits the run to those models (while working on an emitter).
B=${1:-build}
case "$B" in /*) ;; *) B="$PWD/$B" ;; esac
top=$(cd "$(dirname "$0")/.." && pwd)
cnnc="$B/cnnc"
if [ "${SANITIZE:-0}" = 1 ]; then
    echo "SKIP strict_c: the generated C does not depend on the sanitizers (the normal build checks it)"
    echo "strict_c: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0; skip=0
ok() { pass=$((pass+1)); }
bad() { echo "FAIL $*"; fail=$((fail+1)); }
FLAGS="-std=c99 -Wall -Wextra -pedantic -Wconversion -Wshadow -Wcast-qual -Wvla -Werror"
compilers=""
for cc in gcc clang; do
    if command -v $cc >/dev/null 2>&1; then compilers="$compilers $cc"; else echo "SKIP $cc: not installed"; skip=$((skip+1)); fi
done

# A stand-in C compiler for cnnc's program build: keeps the sources it is given (in
# $STRICT_OUT) and writes empty objects and program, so the program's model C is checked here.
cat >"$tmp/keep-cc" <<'CC'
#!/bin/sh
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        -o) out=$2; shift ;;
        *.c) cp "$1" "${1%.c}.h" "$STRICT_OUT/" 2>/dev/null || cp "$1" "$STRICT_OUT/" ;;
    esac
    shift
done
[ -z "$out" ] || : >"$out"
CC
chmod +x "$tmp/keep-cc"

# check NAME LABEL EXTRA FILE: the strict flags under every compiler (both at once: 2 cores)
check() {
    n=$1 label=$2 extra=$3 f=$4
    for cc in $compilers; do
        $cc $FLAGS $extra -fsyntax-only -I"$(dirname "$f")" "$f" >"$f.$cc.log" 2>&1 &
    done
    wait
    for cc in $compilers; do
        if [ -s "$f.$cc.log" ]; then
            bad "$n $label: $cc -Werror $(grep -c 'warning\|error' "$f.$cc.log") diagnostics:"; head -6 "$f.$cc.log"
        else
            ok
        fi
    done
}

BIG="alexnet efficientnet_b0 googlenet mobilenet_v2 mobilenet_v3_small resnet18 resnet50 vgg16 vgg16_bn"
models=0
for src in "$top"/models/*.cnn "$top"/tests/models/*.cnn; do
    for n in $(sed -n 's/^model \([A-Za-z_][A-Za-z0-9_]*\).*/\1/p' "$src"); do
        case " ${STRICT_MODELS:-$n} " in *" $n "*) ;; *) continue ;; esac
        models=$((models+1))
        d="$tmp/$n"; mkdir -p "$d/prog" "$d/e1" "$d/e4"
        # small: a model of models/ but for the ImageNet-size ones (the --batch 4 C and clang's stack)
        small=0
        case "$src" in "$top"/models/*) case " $BIG " in *" $n "*) ;; *) small=1 ;; esac ;; esac
        if STRICT_OUT="$d/prog" CC="$tmp/keep-cc" "$cnnc" "$src" --model "$n" -o "$d/prog/p" 2>"$d/log" &&
           "$cnnc" --emit=c --model "$n" -o "$d/e1" "$src" 2>>"$d/log" &&
           { [ $small = 0 ] || "$cnnc" --emit=c --model "$n" --batch 4 -o "$d/e4" "$src" 2>>"$d/log"; }; then
            ok
        else
            bad "$n: cnnc failed: $(head -3 "$d/log")"; continue
        fi
        check "$n" "program C" "-fopenmp" "$d/prog/$n.c"
        [ -f "$d/prog/${n}_train.c" ] && check "$n" "program training C" "-fopenmp" "$d/prog/${n}_train.c"
        for part in "$d/prog/${n}"_train_part*.c; do # the training op functions, split (docs/language.md)
            [ -f "$part" ] && check "$n" "program training C, $(basename "$part")" "-fopenmp" "$part"
        done
        check "$n" "--emit=c" "" "$d/e1/$n.c"
        # the batch changes loop bounds only: the small models of models/ cover it
        [ $small = 0 ] || check "$n" "--emit=c --batch 4" "" "$d/e4/$n.c"
        # the stack: gcc with its call graph, every model; clang with its frames, the small
        # models of models/ (the ImageNet-size ones are a minute of CPU; the test models' kernels
        # are the same emitters' at other sizes, and gcc checks them all)
        (cd "$d/e1" && gcc -std=c99 -O2 -fstack-usage -fcallgraph-info=su -c "$n.c" -o gcc.o 2>gcc.err) &
        if [ $small = 1 ]; then
            (cd "$d/e1" && clang -std=c99 -O2 -fstack-usage -c "$n.c" -o clang.o 2>clang.err)
        else
            case " $BIG " in *" $n "*) echo "SKIP $n: stack under clang (an ImageNet-size model: gcc checks it)"; skip=$((skip+1)) ;; esac
        fi
        wait
        for cc in gcc clang; do
            [ -f "$d/e1/$cc.o" ] || continue
            ci=""; [ $cc = gcc ] && ci="$d/e1/gcc.ci"
            if out=$(/usr/bin/python3 "$top/tests/strict/stack_check.py" "$d/e1/$n.h" "$d/e1/$cc.su" $ci); then
                ok; echo "$cc $out"
            else
                bad "$n: stack ($cc): $out $(head -3 "$d/e1/$cc.err")"
            fi
        done
        [ -f "$d/e1/gcc.o" ] || bad "$n: gcc -O2 failed: $(head -3 "$d/e1/gcc.err")"
    done
done
[ -n "${STRICT_MODELS:-}" ] || { [ "$models" -ge 20 ] && ok || bad "only $models models found"; }

# The stack of the training pair (--emit=c --train): its header's bound covers the backward
# kernels too (their scratch rows are the largest frames: about 13 to 24 KB).
for n in lenet5 simplecnn resnet18_cifar; do
    case " ${STRICT_MODELS:-$n} " in *" $n "*) ;; *) continue ;; esac
    d=$tmp/train_$n
    mkdir -p "$d"
    if "$cnnc" --emit=c --train -o "$d" "$top/models/$n.cnn" 2>"$d/log" &&
       (cd "$d" && gcc -std=c99 -O2 -fstack-usage -fcallgraph-info=su -c "$n.c" -o gcc.o 2>gcc.err) &&
       out=$(/usr/bin/python3 "$top/tests/strict/stack_check.py" "$d/$n.h" "$d/gcc.su" "$d/gcc.ci"); then
        ok; echo "gcc training $out"
    else
        bad "$n: training stack: $out $(head -3 "$d/log" "$d/gcc.err" 2>/dev/null)"
    fi
done

# clang's static analyzer: nothing to report on small models, inference and training
for f in "$tmp/lenet5/e1/lenet5.c" "$tmp/simplecnn/e1/simplecnn.c" "$tmp/cov_residual/e1/cov_residual.c" \
         "$tmp/lenet5/prog/lenet5_train.c"; do
    [ -f "$f" ] || continue # not among STRICT_MODELS
    if clang --analyze -std=c99 -I"$(dirname "$f")" "$f" -o "$f.plist" >"$f.an" 2>&1 && [ ! -s "$f.an" ]; then
        ok
    else
        bad "clang --analyze $(basename "$f"):"; head -8 "$f.an"
    fi
done
# Optimizing builds: gcc -O3 warns about loops it can prove too long in a clone specialized for
# a fixed buffer (act.c's remainder loop once gave "iteration 4611686018427387903 invokes
# undefined behavior"), which -fsyntax-only and -O2 do not show. The --emit=c --train pair of a
# few models with many kinds of ops, under -O3 with and without OpenMP.
for n in cov_norm_act cov_act simplecnn; do
    case " ${STRICT_MODELS:-$n} " in *" $n "*) ;; *) continue ;; esac
    src="$top/models/$n.cnn"
    [ -f "$src" ] || src="$top/tests/models/$n.cnn"
    d=$tmp/o3_$n
    mkdir -p "$d"
    if ! "$cnnc" --emit=c --train -o "$d" "$src" 2>"$d/log"; then
        bad "$n: cnnc --emit=c --train: $(head -3 "$d/log")"
        continue
    fi
    for omp in -fopenmp ""; do
        # shellcheck disable=SC2086
        if gcc -std=c99 -Wall -Wextra -pedantic -Werror -O3 $omp -c "$d/$n.c" -o "$d/$n.o" 2>"$d/gcc.err"; then
            ok
        else
            bad "gcc -O3 $omp $n.c (--emit=c --train):"; head -6 "$d/gcc.err"
        fi
    done
done
# The kernels' code for this machine's vectors (-march=native: AVX-512 here, where the checks
# above see the portable paths): the padding-skipping tiles of conv_blk.c once left a pointer
# unused in tiles no tap reads, and conv.c's product tile a typedef, which only these builds
# show. The --emit=c --train C of models running those kernels (conv_wino.c's F(2x2) and F(4x4)
# too; conv_small.c's weight gradient on phases; resnet18_cifar, whose conv_1x1.c panels once
# gave gcc -O2 a -Wmaybe-uninitialized), under gcc and clang.
for n in conv_blk_e conv_blk_s2_b cov_pool fuse_train_a conv_wino_a conv_wino_d conv_dws_a resnet18_cifar; do
    case " ${STRICT_MODELS:-$n} " in *" $n "*) ;; *) continue ;; esac
    src=$(grep -l "^model $n\b" "$top"/models/*.cnn "$top"/tests/models/*.cnn | head -n 1)
    d=$tmp/native_$n
    mkdir -p "$d"
    if ! "$cnnc" --emit=c --train --model "$n" -o "$d" "$src" 2>"$d/log"; then
        bad "$n: cnnc --emit=c --train: $(head -3 "$d/log")"
        continue
    fi
    for cc in $compilers; do
        # gcc at -O2 (its warnings of the optimizer, e.g. -Wmaybe-uninitialized, need it);
        # clang's warnings are its front end's: -fsyntax-only
        how="-O2 -c -o $d/$n.$cc.o"
        [ $cc = clang ] && how=-fsyntax-only
        # shellcheck disable=SC2086
        if $cc -std=c99 -Wall -Wextra -pedantic -Werror $how -march=native -fopenmp "$d/$n.c" 2>"$d/$cc.err"; then
            ok
        else
            bad "$cc $how -march=native $n.c (--emit=c --train):"; head -6 "$d/$cc.err"
        fi
    done
done
echo "strict_c: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
