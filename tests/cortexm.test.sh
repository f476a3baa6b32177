#!/bin/sh
# tests/cortexm.test.sh: examples/cortex-m, LeNet-5 built with gcc-arm-none-eabi for a
# Cortex-M4F (-mcpu=cortex-m4 -mfloat-abi=hard -Os, weights and image in flash, a static
# workspace), run under qemu-arm: it must print the same class and probability as the host
# build of the same generated C (examples/embed) and the standalone program's predict. The
# ELF must carry the M4F attributes; its .rodata must hold the weights and its .bss the
# workspace; a corrupted weight must be caught by the CRC-32 check. Skipped (and counted)
# when the cross compiler, newlib or qemu-arm is missing. Usage: sh tests/cortexm.test.sh BUILD_DIR
B=${1:?usage: sh tests/cortexm.test.sh BUILD_DIR}
top=${CNNC_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
tmp=$(mktemp -d /tmp/cnnc-cortexm.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0; skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
if ! command -v arm-none-eabi-gcc >/dev/null || ! command -v qemu-arm >/dev/null ||
   ! [ -e /usr/lib/arm-none-eabi/newlib/libc.a ]; then
    if [ "${CI:-}" = true ]; then # .ci/install-deps installed them: missing is a failure
        echo "FAIL: gcc-arm-none-eabi, libnewlib-arm-none-eabi or qemu-user is not installed (CI=true)"
        echo "cortexm: 0 passed, 1 failed, 0 skipped"
        exit 1
    fi
    echo "SKIP: gcc-arm-none-eabi, libnewlib-arm-none-eabi or qemu-user is not installed"
    echo "cortexm: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
if [ "${SANITIZE:-0}" = 1 ]; then # the firmware does not use the (sanitized) runtime: once is enough
    echo "SKIP: not repeated under the sanitizers"
    echo "cortexm: 0 passed, 0 failed, 1 skipped"
    exit 0
fi

"$B/cnnc" "$top/models/lenet5.cnn" -o "$tmp/lenet5" --batch 1 2>"$tmp/err" || bad "build lenet5: $(head -3 "$tmp/err")"
"$tmp/lenet5" init --seed 11 --save "$tmp/w.safetensors" >/dev/null || bad "init"
mkdir -p "$tmp/gen" "$tmp/arm" "$tmp/bad"
"$B/cnnc" --emit=c --embed-weights "$tmp/w.safetensors" -o "$tmp/gen" "$top/models/lenet5.cnn" || bad "emit"
# A Fashion-MNIST test image when the dataset is there, else a drawn one.
/usr/bin/python3 - "$tmp/img.pgm" <<'PY'
import gzip, os, sys
f = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
if os.path.exists(f):
    px = gzip.open(f).read()[16 + 784:16 + 2 * 784]
else:
    px = bytes((200 if 6 <= r < 22 and 9 <= c < 19 else 10) for r in range(28) for c in range(28))
open(sys.argv[1], "wb").write(b"P5\n28 28\n255\n" + px)
PY

mk() { make -s --no-print-directory -C "$top/examples/cortex-m" GEN="$1" IMAGE="$tmp/img.pgm" OUT="$2" "$3"; }
if mk "$tmp/gen" "$tmp/arm" "$tmp/arm/lenet5.elf" >"$tmp/log" 2>&1; then ok; else bad "cross build: $(head -5 "$tmp/log")"; fi
attrs=$(arm-none-eabi-readelf -A "$tmp/arm/lenet5.elf")
for want in "Tag_CPU_arch: v7E-M" "Tag_CPU_arch_profile: Microcontroller" "Tag_FP_arch: VFPv4-D16" "Tag_ABI_VFP_args: VFP registers"; do
    echo "$attrs" | grep -q "$want" && ok || bad "ELF attributes lack '$want'"
done
arm=$(qemu-arm "$tmp/arm/lenet5.elf" 2>"$tmp/err") && ok || bad "qemu-arm run failed: $(head -3 "$tmp/err")"
echo "cortex-m (qemu-arm): $arm" | head -2
make -s -C "$top/examples/embed" GEN="$tmp/gen" OUT="$tmp" CC=gcc >"$tmp/log" 2>&1 || bad "host build: $(head -3 "$tmp/log")"
host=$("$tmp/classify" "$tmp/img.pgm" | sed 's/^[^:]*: //')
echo "host (x86-64):       $host"
[ -n "$host" ] && [ "$(echo "$arm" | head -1)" = "$host" ] && ok || bad "cortex-m says '$(echo "$arm" | head -1)', the host '$host'"
want=$("$tmp/lenet5" predict --weights "$tmp/w.safetensors" --top 1 "$tmp/img.pgm" | sed 's/^[^:]*: //')
cls=$(echo "$arm" | sed -n '1s/^class \([0-9]*\) .*/\1/p'); prob=$(echo "$arm" | sed -n '1s/.*probability //p')
[ "$want" = "$cls $prob" ] && ok || bad "cortex-m '$cls $prob', predict '$want'"
echo "$arm" | grep -q '^stack: [0-9]* bytes$' && ok || bad "no stack measurement"

# Sizes: the weights in .rodata, the workspace in .bss.
sizes=$(arm-none-eabi-size -A "$tmp/arm/lenet5.elf")
rodata=$(echo "$sizes" | awk '$1 == ".rodata" {print $2}'); bss=$(echo "$sizes" | awk '$1 == ".bss" {print $2}')
pbytes=$(( $(sed -n 's/^#define LENET5_PARAM_FLOATS \([0-9]*\)/\1/p' "$tmp/gen/lenet5.h") * 4 ))
wbytes=$(( $(sed -n 's/^#define LENET5_WORK_FLOATS \([0-9]*\)/\1/p' "$tmp/gen/lenet5.h") * 4 ))
[ "${rodata:-0}" -ge "$pbytes" ] && [ "${bss:-0}" -ge "$wbytes" ] && ok ||
    bad ".rodata $rodata bytes (weights $pbytes), .bss $bss bytes (workspace $wbytes)"
echo "cortex-m sizes: $(echo "$sizes" | awk '$1 ~ /^\.(text|rodata|data|bss)$/ {printf "%s %s  ", $1, $2}')"

# A corrupted weight in flash is caught before use.
cp "$tmp/gen/lenet5.h" "$tmp/bad/"
awk '/lenet5_weights\[LENET5_PARAM_FLOATS\] = \{/ {print; getline; sub(/^[^,]*,/, "0.5f,"); print; next} {print}' \
    "$tmp/gen/lenet5.c" >"$tmp/bad/lenet5.c"
cmp -s "$tmp/gen/lenet5.c" "$tmp/bad/lenet5.c" && bad "could not corrupt a weight"
mk "$tmp/bad" "$tmp/bad" "$tmp/bad/lenet5.elf" >"$tmp/log" 2>&1 || bad "corrupted build: $(head -3 "$tmp/log")"
out=$(qemu-arm "$tmp/bad/lenet5.elf" 2>/dev/null)
st=$?
[ $st = 1 ] && echo "$out" | grep -q "corrupted" && ok || bad "a corrupted weight: status $st, '$out'"

echo "cortexm: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
