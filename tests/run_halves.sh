#!/bin/sh
# run_halves.sh BUILD SANITIZER_BUILD: `make test`'s two halves at the same time, one on each
# core: tests/run_all.sh on the normal build (its output shown as it runs) and, with
# SANITIZE=1, on the sanitizer build (its output kept in a log and shown when the normal half
# is done, so that the two do not interleave). The output is that of the two runs one after
# the other, each ending with its own closing line "N passed, N failed, N skipped"; the exit
# status is non-zero if either half failed. Most checks are single-threaded (a compiler, one
# program), so the halves together take little more than the longer of the two.
# The normal half is the longer (about 1,540 s of groups against the sanitizer half's 1,240 on
# a 2-core machine, 2026-12-01 20:40 UTC, before the sanitizer half's parity checks left out
# the unfused programs): its LATE groups run on the second core after the sanitizer half
# instead (about 400 s; each writes only its own files in BUILD), and their output and closing
# line follow the sanitizer half's. Since the -O0 programs of parity.py and grad_parity.py
# compile at -O0 (2026-12-02: grad_parity 546 -> 403 s of CPU), hostile and mpi (about 55 s)
# are back in the normal half. random_models (about 30 s, 2026-12-02) is a late group too.
# Since parity reuses grad_parity's programs (tests/torch/parity.py, build_program) and the
# sanitized programs leave out UBSan's pointer-overflow (docs/testing.md), the sanitizer half
# shrank more than the normal one: train (about 60 s) is a late group as well (2026-12-02).
# RUN_HALVES_SAN_BUILD, when set, is a command that makes the sanitizer build: the second core
# runs it before the sanitizer half, while the normal half starts on the first (make test:
# about 35 s of a 2-core run that had waited for it, 2026-12-04). With that build on the second
# core and portable's SSE4.2, AVX2 and gcc checks on fused programs only (287 -> about 180 s),
# mutants (about 40 s: a scratch copy of the tree, BUILD only read) is a late group too.
B=${1:?usage: sh tests/run_halves.sh BUILD SANITIZER_BUILD}
S=${2:?usage: sh tests/run_halves.sh BUILD SANITIZER_BUILD}
LATE="portable mobile import random_models train mutants"
here=$(cd "$(dirname "$0")" && pwd)
log=$(mktemp /tmp/cnnc-run_halves.XXXXXX) || exit 1
{
    st1=0
    if [ -n "${RUN_HALVES_SAN_BUILD:-}" ]; then # the sanitizer build first, left to this core (make test)
        echo "== the sanitizer build, made on this core while the normal half starts: $RUN_HALVES_SAN_BUILD"
        t0=$(date +%s)
        if sh -c "$RUN_HALVES_SAN_BUILD"; then
            echo "== the sanitizer build took $(($(date +%s) - t0)) s"
        else
            echo "FAIL the sanitizer build"
            echo "0 passed, 1 failed, 0 skipped"
            st1=1
        fi
    fi
    if [ "$st1" = 0 ]; then
        SANITIZE=1 sh "$here/run_all.sh" "$S"
        st1=$?
    fi
    echo "== the normal build's groups $LATE ($B), run after the sanitizer half on its core:"
    TEST_ONLY="$LATE" sh "$here/run_all.sh" "$B"
    st2=$?
    [ "$st1" = 0 ] && [ "$st2" = 0 ]
} >"$log" 2>&1 &
san=$!
trap 'kill "$san" 2>/dev/null; rm -f "$log"; exit 130' INT TERM
trap 'rm -f "$log"' EXIT
TEST_SKIP="$LATE" sh "$here/run_all.sh" "$B"
st=$?
echo "== the sanitizer half ($S), run at the same time:"
wait "$san"
st_san=$?
cat "$log"
[ "$st" = 0 ] && [ "$st_san" = 0 ]
