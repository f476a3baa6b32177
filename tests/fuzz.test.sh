#!/bin/sh
# tests/fuzz.test.sh: replays every seed of tests/fuzz/corpus/NAME/ and every past crasher of
# tests/fuzz/crashers/NAME/ through the libFuzzer harness tests/fuzz/fuzz_NAME.c, driven by
# tests/fuzz/replay.c instead of libFuzzer (so it runs with the normal and the sanitizer
# build). A crash, a sanitizer report or a harness check (abort) fails. `make fuzz` does the
# fuzzing itself (docs/testing.md, Fuzzing).
B=${1:?usage: sh tests/fuzz.test.sh BUILD_DIR}
top=${CNNC_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
tmp=$(mktemp -d /tmp/cnnc-fuzzreplay.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
cc=${CC:-clang}
flags="-std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter"
[ "${SANITIZE:-0}" = 1 ] && flags="$flags -fsanitize=address,undefined -fno-sanitize-recover=all"
objs=$(ls "$B"/compiler/*.o "$B"/compiler/ops/*.o "$B"/gen/parser.o "$B"/gen/lexer.o | grep -v '/compiler/main\.o$')
pass=0
fail=0
for h in "$top"/tests/fuzz/fuzz_*.c; do
    name=$(basename "$h" .c)
    name=${name#fuzz_}
    if ! $cc $flags -I"$top/compiler" -I"$B/gen" -I"$top/runtime" "$top/tests/fuzz/replay.c" "$h" $objs \
            "$B/libcnnrt.a" -o "$tmp/replay_$name" -lz -lm 2>"$tmp/cc.log"; then
        echo "FAIL $name: the replay driver does not build"
        cat "$tmp/cc.log"
        fail=$((fail + 1))
        continue
    fi
    files=$(find "$top/tests/fuzz/corpus/$name" "$top/tests/fuzz/crashers/$name" -type f ! -name .keep 2>/dev/null | sort)
    if ASAN_OPTIONS=detect_leaks=0 "$tmp/replay_$name" $files >"$tmp/out" 2>&1; then
        echo "fuzz $name: $(tail -1 "$tmp/out")"
        pass=$((pass + 1))
    else
        echo "FAIL $name: replay failed:"
        tail -20 "$tmp/out"
        fail=$((fail + 1))
    fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" = 0 ]
