#!/bin/sh
# tests/grad_fd.test.sh: the backward kernels against finite differences. For each small model
# below (one op under test with its corner cases, a conv before it so that the conv's weight
# gradient depends on the op's input gradient, then flatten and linear for a loss), generates
# the training C with --batch 3, compiles it warning-free (-Werror, -pedantic) with the driver
# tests/fd/fd_check.c, and runs it: every trained tensor's gradient is compared with central
# differences of the loss (the driver explains its tolerance). Usage: sh tests/grad_fd.test.sh BUILD_DIR
B=${1:?usage: sh tests/grad_fd.test.sh BUILD_DIR}
top=${CNNC_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
cc=${CC:-cc}
tmp=$(mktemp -d /tmp/cnnc-fd.XXXXXX) || exit 1
[ -n "$FD_KEEP" ] || trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

cflags="-std=c99 -O2 -Wall -Wextra -pedantic -Werror"
if [ "${SANITIZE:-0}" = 1 ]; then
    cflags="$cflags -O0 -g -fsanitize=address,undefined -fno-sanitize-recover=all"
elif echo 'int main(void) { return 0; }' >"$tmp/omp.c" && $cc -fopenmp "$tmp/omp.c" -o "$tmp/omp" 2>/dev/null; then
    cflags="$cflags -fopenmp" # the PARALLEL_FOR loops, on two threads
    export OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive
fi

# model NAME: the model's body on standard input; writes $tmp/NAME.cnn.
model() {
    { echo "model $1 {"; cat; echo "    flatten"; echo "    linear(4)"; echo "}"; } >"$tmp/$1.cnn"
}

model fd_conv <<'M'
    input [2, 9, 10]
    conv(4, 3, pad = 1)
    conv(6, 3, stride = 2, pad = 1)                                          # [6, 5, 5]
    conv(6, [3, 2], stride = [2, 3], pad = [2, 1], dilation = [2, 1], groups = 2, bias = false)
    tanh
M
model fd_conv_same <<'M'
    input [2, 8, 7]
    conv(4, 3, pad = 1)
    conv(4, [2, 4], pad = same, dilation = [1, 2])                           # pads [0, 3] after
    conv(4, 3, pad = same, groups = 4)                                       # depthwise
    conv(3, 4, pad = same, bias = false)
M
# Before the max poolings, a depthwise 1x1 conv (one scale and shift per channel) keeps the
# order inside every window, so that the differences in its parameters cross no kink.
model fd_maxpool <<'M'
    input [3, 11, 10]
    conv(3, 1, groups = 3)
    maxpool(3, stride = 2, pad = 1, ceil = true)        # [3, 6, 6]: the last column's window hangs past the pad
    maxpool(2, stride = 1)                              # [3, 5, 5]: overlapping windows
    maxpool([2, 3], stride = [2, 1], pad = [1, 0], ceil = true)   # [3, 3, 3]: a last window dropped
M
# Windows that tile the image (stride = kernel, no padding): pool.c's unrolled kernels, which
# write every window of dx whole and zero the rows and columns past the last window.
model fd_maxpool_tiles <<'M'
    input [3, 9, 7]
    conv(3, 1, groups = 3)
    maxpool(2)                                          # [3, 4, 3]: the last row and column in no window
    maxpool([2, 3])                                     # [3, 2, 1]: a window wider than tall
M
model fd_avgpool <<'M'
    input [2, 10, 10]
    conv(3, 3, pad = 1)
    concat {
        branch { avgpool(3, stride = 2, pad = 1, ceil = true, count_include_pad = false) }   # [3, 6, 6]
        branch { avgpool(3, stride = 2, pad = 1, ceil = true) }   # divisor clipped past the pad
    }
    avgpool(2, stride = 2, pad = 1, ceil = true, count_include_pad = false)   # [6, 4, 4]
    avgpool(3, 2, 1)                                                          # [6, 2, 2]
M
model fd_adaptive <<'M'
    input [2, 7, 9]
    conv(3, 3, pad = 1)
    add {
        branch { adaptive_avgpool(3, 4); adaptive_avgpool(2) }               # windows overlap
        branch { adaptive_avgpool(5, 2); adaptive_avgpool(2) }
    }
M
model fd_global <<'M'
    input [3, 6, 5]
    conv(3, 1, groups = 3)
    concat {
        branch { global_avgpool }
        branch { global_maxpool }
    }
M
model fd_lrn <<'M'
    input [2, 5, 6]
    conv(7, 3, pad = 1)
    lrn(size = 3, alpha = 0.5, beta = 0.6, k = 0.8)
    lrn(size = 4, alpha = 2.0, beta = 0.75, k = 1.0)                         # even window
    conv(6, 1)
    lrn(size = 9, alpha = 1.5, beta = 1.2, k = 0.5)                          # wider than C
M
model fd_normalize <<'M'
    input [2, 5, 5]
    conv(3, 3, pad = 1)
    normalize(mean = [0.1, -0.2, 0.3], std = [0.5, 2, 0.25])
    conv(3, 1)
    normalize(mean = 0.5, std = 0.75)
M
model fd_concat <<'M'
    input [2, 6, 6]
    conv(3, 3, pad = 1)
    concat {
        branch { conv(2, 1) }
        branch { tanh; conv(4, 3, pad = 1) }
        branch { }
    }
    conv(3, 3, stride = 2)
M
model fd_average <<'M'
    input [2, 6, 6]
    conv(3, 3, pad = 1)
    average {
        branch { conv(3, 1) }
        branch { tanh; conv(3, 3, pad = 1) }
        branch { }
    }
    conv(3, 3, stride = 2)
M
# Batchnorm on batch statistics (training mode), on images and on features.
model fd_batchnorm <<'M'
    input [2, 5, 6]
    conv(3, 3, pad = 1)
    batchnorm
    tanh
    conv(4, 1, bias = false)
    batchnorm(eps = 0.1)
M
# Dropout in training, its mask fixed by the step's seed (fd_check.c built with -DCHECK_DROPOUT):
# the differences see the forward's mask, the analytic gradient the backward's.
model fd_dropout <<'M'
    input [2, 6, 5]
    conv(3, 3, pad = 1)
    dropout(0.4)
    conv(4, 1)
    tanh
    dropout(0.25)
M
# Stochastic depth in training: one draw per image of the batch (3 images, p = 0.5), on a
# residual branch so that a dropped image still passes a gradient.
model fd_drop_path <<'M'
    input [2, 6, 5]
    conv(3, 3, pad = 1)
    residual { conv(3, 3, pad = 1); tanh; drop_path(0.5) }
    conv(4, 1)
    tanh
    drop_path(p = 0.3)
M
# Linear layers only, with batchnorm on features and dropout between them.
model fd_linear <<'M'
    input [13]
    linear(9)
    batchnorm
    tanh
    linear(7, bias = false)
    dropout(0.3)
    linear(6)
M

skipped=0
for f in "$tmp"/*.cnn; do
    name=$(basename "$f" .cnn)
    if [ -n "${FD_ONLY:-}" ]; then # FD_ONLY="fd_conv fd_lrn": only those (quick runs); the others SKIP
        case " $FD_ONLY " in
        *" $name "*) ;;
        *) echo "SKIP grad_fd $name (not in FD_ONLY)"; skipped=$((skipped + 1)); continue ;;
        esac
    fi
    upper=$(echo "$name" | tr a-z A-Z)
    dir="$tmp/$name"
    mkdir -p "$dir"
    if ! "$B/cnnc" --emit=c --train --batch 3 -o "$dir" "$f" >"$dir/log" 2>&1; then
        echo "FAIL: $name: cnnc: $(head -5 "$dir/log")"
        fail=$((fail + 1))
        continue
    fi
    extra=""
    case $name in fd_dropout | fd_linear | fd_drop_path) extra=-DCHECK_DROPOUT ;; esac
    if ! $cc $cflags $extra -I"$dir" -DNAME="$name" -DUNAME="$upper" -DHEADER="\"$name.h\"" \
        "$top/tests/fd/fd_check.c" "$dir/$name.c" -o "$dir/check" -lm >"$dir/log" 2>&1; then
        echo "FAIL: $name: compiling the generated C: $(head -5 "$dir/log")"
        fail=$((fail + 1))
        continue
    fi
    if "$dir/check" >"$dir/out" 2>&1; then
        pass=$((pass + 1))
        tail -1 "$dir/out"
    else
        fail=$((fail + 1))
        cat "$dir/out"
        echo "FAIL: $name"
    fi
done
echo "grad_fd: $pass passed, $fail failed, $skipped skipped"
[ "$fail" = 0 ]
