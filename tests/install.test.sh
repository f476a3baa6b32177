#!/bin/sh
# tests/install.test.sh: `make install` and `make uninstall` (Makefile, dist/).
# Installs into a temporary DESTDIR with PREFIX=/opt/cnnc, then, from another directory and
# with no CNNC_RUNTIME, compiles LeNet-5 with the installed cnnc and runs it; compiles and
# links a program against the installed library with `pkg-config --cflags --libs cnnrt`;
# renders both man pages with `man -l`; completes cnnc's options and a program's commands with
# the installed bash completion; then uninstalls and checks that nothing of cnnc is left and
# that a foreign file in the same directories survives. Usage: sh tests/install.test.sh BUILD_DIR
B=${1:?usage: sh tests/install.test.sh BUILD_DIR}
top=${CNNC_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
tmp=$(mktemp -d /tmp/cnnc-install.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
unset CNNC_RUNTIME
if [ "${SANITIZE:-0}" = 1 ]; then # a sanitized runtime library: programs must be sanitized too
    export CNNC_CFLAGS="-fsanitize=address,undefined -fno-sanitize=pointer-overflow -fno-sanitize-recover=all -O0" CNNC_OPENMP=0
fi
stage=$tmp/stage
root=$stage/opt/cnnc
mk() { make -s --no-print-directory -C "$top" B="$B" PREFIX=/opt/cnnc DESTDIR="$stage" "$@"; }

if mk install >"$tmp/log" 2>&1; then ok; else bad "make install failed: $(tail -5 "$tmp/log")"; fi
for f in bin/cnnc lib/libcnnrt.a include/cnnc/cnnrt.h include/cnnc/cnntrain.h lib/pkgconfig/cnnrt.pc \
         share/man/man1/cnnc.1 share/man/man1/cnnc-program.1 share/bash-completion/completions/cnnc \
         share/doc/cnnc/README.md share/doc/cnnc/language.md share/doc/cnnc/examples/embed/main.c; do
    [ -f "$root/$f" ] && ok || bad "not installed: $f"
done
[ -x "$root/bin/cnnc" ] && ok || bad "bin/cnnc is not executable"

# The installed cnnc, run from elsewhere, finds its runtime relative to itself.
mkdir -p "$tmp/elsewhere" && cp "$top/models/lenet5.cnn" "$tmp/elsewhere/"
/usr/bin/python3 -c "
import sys
px = bytes((200 if 6 <= r < 22 and 9 <= c < 19 else 10) for r in range(28) for c in range(28))
open(sys.argv[1], 'wb').write(b'P5\n28 28\n255\n' + px)" "$tmp/elsewhere/img.pgm"
(
    cd "$tmp/elsewhere" || exit 1
    "$root/bin/cnnc" --no-train --batch 2 lenet5.cnn -o lenet5 || exit 1
    ./lenet5 init --seed 3 --save w.safetensors >/dev/null || exit 1
    ./lenet5 predict --weights w.safetensors --top 1 img.pgm >pred.txt || exit 1
) 2>"$tmp/log" && ok || bad "installed cnnc: building or running lenet5 from another directory failed: $(tail -3 "$tmp/log")"
grep -q '^img.pgm: [0-9]' "$tmp/elsewhere/pred.txt" && ok || bad "predict printed '$(cat "$tmp/elsewhere/pred.txt")'"
# The same prediction as the build tree's cnnc gives (once: not again under the sanitizers).
if [ "${SANITIZE:-0}" != 1 ]; then
    "$B/cnnc" --no-train --batch 2 "$top/models/lenet5.cnn" -o "$tmp/lenet5_tree" 2>/dev/null &&
        (cd "$tmp/elsewhere" && "$tmp/lenet5_tree" predict --weights w.safetensors --top 1 img.pgm) >"$tmp/pred_tree.txt" &&
        cmp -s "$tmp/pred_tree.txt" "$tmp/elsewhere/pred.txt" && ok || bad "installed and build-tree programs disagree"
fi
# A cnnc with no runtime next to it fails with one clear line and status 1, and no program.
mkdir -p "$tmp/lonely/bin" && cp "$root/bin/cnnc" "$tmp/lonely/bin/"
"$tmp/lonely/bin/cnnc" "$tmp/elsewhere/lenet5.cnn" -o "$tmp/lonely/prog" 2>"$tmp/err"
st=$?
[ $st = 1 ] && grep -q "^cnnc: error: cannot find the runtime library" "$tmp/err" && [ ! -e "$tmp/lonely/prog" ] && ok ||
    bad "cnnc without a runtime: status $st, '$(cat "$tmp/err")'"

# pkg-config: the flags compile and link a program against the installed runtime.
pc() { PKG_CONFIG_PATH="$root/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage" pkg-config "$@"; }
flags=$(pc --cflags --libs cnnrt) && ok || bad "pkg-config --cflags --libs cnnrt failed"
case $flags in *"-I$root/include/cnnc"*"-L$root/lib"*-lcnnrt*) ok ;; *) bad "pkg-config flags: $flags" ;; esac
cat >"$tmp/use.c" <<'C'
#include <cnnrt.h>
#include <cnntrain.h>
#include <stdio.h>
int main(void) { printf("%p\n", (void *)&cnnrt_main); return 0; }
C
# shellcheck disable=SC2086
${CC:-cc} ${CNNC_CFLAGS:-} "$tmp/use.c" $flags -o "$tmp/use" 2>"$tmp/log" && "$tmp/use" >/dev/null && ok ||
    bad "a program built with pkg-config's flags: $(head -3 "$tmp/log")"

# The man pages render without warnings and hold their sections.
for page in cnnc cnnc-program; do
    f=$root/share/man/man1/$page.1
    txt=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$f" 2>"$tmp/manerr") && [ ! -s "$tmp/manerr" ] && ok ||
        bad "man -l $page.1: $(head -3 "$tmp/manerr")"
    for sec in NAME SYNOPSIS DESCRIPTION "EXIT STATUS" EXAMPLES; do
        echo "$txt" | grep -q "^$sec" && ok || bad "man $page: no section $sec"
    done
done
# cnnc.1 documents every option cnnc --help lists.
for opt in $("$B/cnnc" --help | grep -o -- '^  -[-a-zA-Z0-9=]*' | sed 's/^  //'); do
    MANWIDTH=200 man -l "$root/share/man/man1/cnnc.1" 2>/dev/null | grep -q -- "${opt%%=*}" && ok || bad "cnnc.1 lacks $opt"
done

# cnnc-program.1 documents every command the program lists and every option of each command's
# --help.
prog="$tmp/elsewhere/lenet5"
man_prog=$(MANWIDTH=200 man -l "$root/share/man/man1/cnnc-program.1" 2>/dev/null)
for cmd in $("$prog" help 2>&1 | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }'); do
    echo "$man_prog" | grep -q "^   $cmd\( \|\$\)" && ok || bad "cnnc-program.1 lacks the command $cmd"
    for opt in $("$prog" "$cmd" --help 2>&1 | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
        echo "$man_prog" | grep -q -- "$opt" && ok || bad "cnnc-program.1 lacks $cmd's option $opt"
    done
done

# bash completion: cnnc's --emit kinds and options, and a program's commands and options.
if command -v bash >/dev/null; then
    # comp FUNCTION WORD...: the completions FUNCTION offers for the last WORD.
    comp() { bash -c '. "$1"; f=$2; shift 2; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); $f; echo "${COMPREPLY[*]}"' \
             sh "$root/share/bash-completion/completions/cnnc" "$@"; }
    # has "LIST" WORD...: every WORD is in the space-separated LIST.
    has() { l=" $1 "; shift; for w; do case $l in *" $w "*) ;; *) return 1 ;; esac; done; }
    c=$(comp _cnnc cnnc --emit=)
    has "$c" ir params c plan dot torch && ok || bad "completion of --emit=: '$c'"
    c=$(comp _cnnc cnnc --no)
    [ "$c" = "--no-train" ] && ok || bad "completion of --no: '$c'"
    c=$(cd "$tmp/elsewhere" && comp _cnnc_program ./lenet5 "")
    has "$c" info init predict bench forward train eval grad && ok || bad "completion of the program's commands: '$c'"
    c=$(cd "$tmp/elsewhere" && comp _cnnc_program ./lenet5 predict --)
    has "$c" --top --weights --labels && ok || bad "completion of predict's options: '$c'"
fi

# A real PREFIX (no DESTDIR): the .pc file names it.
make -s --no-print-directory -C "$top" B="$B" PREFIX="$tmp/px" install >"$tmp/log" 2>&1 &&
    grep -q "^includedir=$tmp/px/include/cnnc" "$tmp/px/lib/pkgconfig/cnnrt.pc" && ok || bad "install with PREFIX=$tmp/px"
make -s --no-print-directory -C "$top" B="$B" PREFIX="$tmp/px" uninstall >"$tmp/log" 2>&1 &&
    [ -z "$(ls -A "$tmp/px")" ] && ok || bad "uninstall of PREFIX=$tmp/px left: $(cd "$tmp/px" && find . | head -5)"

# Uninstall removes exactly what was installed: a foreign file next to ours stays.
echo keep >"$root/bin/other-tool"
if mk uninstall >"$tmp/log" 2>&1; then ok; else bad "make uninstall failed: $(tail -3 "$tmp/log")"; fi
left=$(cd "$root" && find . -type f ! -path ./bin/other-tool | head -5)
[ -z "$left" ] && ok || bad "uninstall left: $left"
[ -f "$root/bin/other-tool" ] && ok || bad "uninstall removed a file it did not install"
rm -f "$root/bin/other-tool" && make -s --no-print-directory -C "$top" B="$B" PREFIX=/opt/cnnc DESTDIR="$stage" uninstall >/dev/null 2>&1
left=$(cd "$root" && find . -mindepth 1 | head -5)
[ -z "$left" ] && ok || bad "uninstall left directories: $left"

echo "install: $pass passed, $fail failed"
[ "$fail" = 0 ]
