#!/bin/sh
# Runs every test: the CUnit suites, then each tests/*.test.sh script (given the build dir).
# SANITIZE=1 marks the sanitizer build; scripts that are too slow under it may skip parts.
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
export CNNC_TOP="$top" CNNC_BUILD="$top/$B"
pass=0; fail=0; failed=""
echo "== unit tests ($B)"
if (cd "$top/tests" && "$top/$B/test_unit"); then pass=$((pass+1)); else fail=$((fail+1)); failed="$failed unit"; fi
for t in "$top"/tests/*.test.sh; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .test.sh)
    echo "== $name ($B)"
    if sh "$t" "$top/$B"; then pass=$((pass+1)); else fail=$((fail+1)); failed="$failed $name"; fi
done
echo "test groups ($B): $pass passed, $fail failed${failed:+ (failed:$failed)}"
[ "$fail" = 0 ]
