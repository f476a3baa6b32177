#!/bin/sh
# golden.test.sh: golden files found by discovery. Every file tests/cases/NAME.KIND is the
# expected output of cnnc on tests/cases/NAME.cnn (or, when there is none, models/NAME.cnn),
# compared byte for byte; the script needs no edit for a new case. KIND says what is run:
#   ir, train.ir        --emit=ir [--train]
#   plan, train.plan    --emit=plan [--train]
#   params              --emit=params
#   c, train.c          --emit=c [--train] -o DIR: the generated NAME.c (keep these to small models)
#   dump.PASS           standard error of --dump-after=PASS (the IR after that pass)
#   err                 the full standard error of --emit=ir, which must exit 1 and write nothing
# A line "# cnnc-args: ARGS" in the source adds ARGS to every run (e.g. --model NAME, --batch 4).
# cnnc runs in the source's directory on its bare file name, so messages name NAME.cnn.
# After an intended change, regenerate every golden file with one command and review the diff
# like code:
#   UPDATE=1 sh tests/golden.test.sh build
# (only UPDATE=1 overwrites: UPDATE=0 or any other value compares).
# A new case: write tests/cases/NAME.cnn, touch the sibling files wanted (e.g. NAME.ir NAME.err),
# run the command above, and read what it wrote.
B=${1:-build}
case "$B" in /*) ;; *) B="$PWD/$B" ;; esac
top=$(cd "$(dirname "$0")/.." && pwd)
cnnc="$B/cnnc"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
failed() { echo "FAIL $1"; fail=$((fail+1)); }

for src in "$top"/tests/cases/*.cnn; do # a case that checks nothing is a mistake
    [ -f "$src" ] || continue
    n=$(basename "$src" .cnn)
    ls "$top/tests/cases/$n".* | grep -qv '\.cnn$' || failed "tests/cases/$n.cnn has no golden file beside it"
done

for gold in "$top"/tests/cases/*; do
    base=$(basename "$gold")
    name=${base%%.*}
    kind=${base#*.}
    [ "$kind" = cnn ] && continue
    if [ -f "$top/tests/cases/$name.cnn" ]; then src="$top/tests/cases/$name.cnn"; else src="$top/models/$name.cnn"; fi
    if [ ! -f "$src" ]; then failed "$base: neither tests/cases/$name.cnn nor models/$name.cnn exists"; continue; fi
    dir=$(dirname "$src"); file=$(basename "$src")
    extra=$(sed -n 's/^# cnnc-args: *//p' "$src" | head -1)
    rm -rf "$tmp/c" "$tmp/out" "$tmp/err"
    status=0
    case "$kind" in
        ir|train.ir|plan|train.plan|params)
            what=${kind#train.}
            train=; [ "$kind" != "$what" ] && train=--train
            # shellcheck disable=SC2086
            (cd "$dir" && "$cnnc" --emit="$what" $train $extra "$file") >"$tmp/out" 2>"$tmp/err" || status=$?
            want=0 ;;
        c|train.c)
            train=; [ "$kind" = train.c ] && train=--train
            mkdir -p "$tmp/c"
            # shellcheck disable=SC2086
            (cd "$dir" && "$cnnc" --emit=c $train $extra "$file" -o "$tmp/c") >"$tmp/err" 2>&1 || status=$?
            cat "$tmp/c"/*.c >"$tmp/out" 2>/dev/null
            want=0 ;;
        dump.*)
            # shellcheck disable=SC2086
            (cd "$dir" && "$cnnc" --emit=params --dump-after="${kind#dump.}" $extra "$file") >/dev/null 2>"$tmp/out" || status=$?
            want=0 ;;
        err)
            # shellcheck disable=SC2086
            (cd "$dir" && "$cnnc" --emit=ir $extra "$file" -o "$tmp/written") >/dev/null 2>"$tmp/out" || status=$?
            want=1
            if [ -e "$tmp/written" ]; then failed "$base: an output file was written"; rm -f "$tmp/written"; continue; fi ;;
        *)
            failed "$base: unknown kind '$kind' (ir, train.ir, plan, train.plan, params, c, train.c, dump.PASS, err)"
            continue ;;
    esac
    if [ "$status" != "$want" ]; then
        failed "$base: cnnc exited $status, expected $want"; sed 's/^/    /' "$tmp/err" "$tmp/out" 2>/dev/null | head -8
        continue
    fi
    if [ "${UPDATE:-0}" = 1 ]; then cp "$tmp/out" "$gold"; fi
    if cmp -s "$tmp/out" "$gold"; then
        pass=$((pass+1))
    else
        failed "$base differs (UPDATE=1 sh tests/golden.test.sh BUILD regenerates):"; diff "$gold" "$tmp/out" | head -20
    fi
done
echo "golden: $pass passed, $fail failed"
[ "$fail" = 0 ]
