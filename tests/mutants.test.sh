#!/bin/sh
# tests/mutants.test.sh: a smoke test of the mutation harness (tests/mutants/mutate.py, run in
# full by `make mutate`): three quick mutants of the list (front end, shape rule, IDX reader)
# must be killed and an inert one (a comment) must survive, in a scratch copy of the tree that
# starts from BUILD's objects. Under the sanitizer build it is skipped (the normal build runs
# it; the copy is rebuilt with the normal flags). Usage: sh tests/mutants.test.sh BUILD_DIR
B=${1:?usage: sh tests/mutants.test.sh BUILD_DIR}
top=${CNNC_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
if [ "${SANITIZE:-0}" = 1 ]; then
    echo "SKIP mutants: the harness smoke runs in the normal build"
    echo "mutants: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
out=$(/usr/bin/python3 "$top/tests/mutants/mutate.py" --build "$B" \
    --list "$top/tests/mutants/mutants.txt" "$top/tests/mutants/inert.txt" \
    --only division_by_zero conv_output_size idx_magic inert_comment 2>&1)
st=$?
echo "$out"
pass=0; fail=0
want="3 killed, 1 survived: inert_comment"
if [ "$st" = 1 ] && [ "$(echo "$out" | tail -1)" = "$want" ]; then
    pass=$((pass + 1))
else
    fail=$((fail + 1))
    echo "FAIL mutants: want exit 1 and last line '$want', got exit $st"
fi
# The whole list: every mutant's text is still in its file (a refactoring that moves it must
# update the list).
if /usr/bin/python3 "$top/tests/mutants/mutate.py" --check; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL mutants: tests/mutants/mutants.txt is out of date"
fi
echo "mutants: $pass passed, $fail failed"
[ "$fail" = 0 ]
