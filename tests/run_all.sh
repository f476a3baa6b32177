#!/bin/sh
# Runs every test: the CUnit suites, then each tests/*.test.sh script (given the build dir).
# SANITIZE=1 marks the sanitizer build; scripts that are too slow under it may skip parts.
# Counting: every group ends its output with a line "NAME: P passed, F failed[, S skipped]"
# (a check that is skipped prints a line starting with SKIP and is counted in S). The totals
# of those lines make the closing line "N passed, N failed, N skipped", alone on a line (CI
# reads it). A group that exits non-zero without counting a failure, or prints no summary
# line, counts as one failure more.
# TEST_ONLY="NAME ..." runs only those groups, TEST_SKIP="NAME ..." all but those (names as the
# "== NAME" lines print them; tests/run_halves.sh uses both to share the groups between cores).
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
export CNNC_TOP="$top" CNNC_BUILD="$top/$B"
logs=$(mktemp -d /tmp/cnnc-run_all.XXXXXX) || exit 1
trap 'rm -rf "$logs"' EXIT
# Programs kept for reuse within this run (tests/torch/parity.py's build_program: parity reuses
# the programs grad_parity built from the same model, cnnc and environment).
mkdir "$logs/programs" && export CNNC_PROGRAM_CACHE="$logs/programs"
pass=0; fail=0; skip=0; failed=""

# run NAME COMMAND...: runs a group, shows its output, adds its counts.
run() {
    name=$1; shift
    case " ${TEST_SKIP:-} " in *" $name "*) return ;; esac
    if [ -n "${TEST_ONLY:-}" ]; then
        case " $TEST_ONLY " in *" $name "*) ;; *) return ;; esac
    fi
    echo "== $name ($B)"
    t0=$(date +%s)
    { "$@" 2>&1; echo $? >"$logs/status"; } | tee "$logs/out"
    echo "== $name took $(($(date +%s) - t0)) s"
    st=$(cat "$logs/status")
    line=$(grep -E '^[A-Za-z0-9_]+: [0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?' "$logs/out" | tail -1)
    if [ -z "$line" ]; then
        p=0; f=1; s=0
        echo "FAIL $name: no summary line (exit status $st)"
    else
        p=$(echo "$line" | sed 's/^[^:]*: \([0-9]*\) passed.*/\1/')
        f=$(echo "$line" | sed 's/^[^:]*: [0-9]* passed, \([0-9]*\) failed.*/\1/')
        s=$(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')
        s=${s:-0}
        if [ "$st" != 0 ] && [ "$f" = 0 ]; then
            f=1; echo "FAIL $name: exit status $st with no failure counted"
        fi
        if [ "$st" = 0 ] && [ "$f" != 0 ]; then
            echo "FAIL $name: $f failures counted but exit status 0"
        fi
    fi
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
    [ "$f" = 0 ] || failed="$failed $name"
}

run unit sh -c 'cd "$1/tests" && "$1/$2/test_unit"' sh "$top" "$B"
for t in "$top"/tests/*.test.sh; do
    [ -e "$t" ] || continue
    run "$(basename "$t" .test.sh)" sh "$t" "$top/$B"
done
echo "test groups ($B):${failed:+ failed:$failed}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
