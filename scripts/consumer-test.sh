#!/usr/bin/env bash
# Installs build/ into a temporary prefix (not a system one) and uses that tree alone, as a user
# does: a CMake project (tests/consumer, find_package(einfuse)), examples/ as its own project, a
# pkg-config compile with no rpath or LD_LIBRARY_PATH of ours, the installed CLI. Checks what the
# library exports (einfuse_* and einfuse:: only) and needs at load time (no NVRTC, cuBLAS(Lt) or
# driver), and that einfuse as a subproject (FetchContent, add_subdirectory) builds no tests.
#   scripts/consumer-test.sh [build-dir]     (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${1:-build}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/some/prefix

echo "== consumer test: install into $prefix =="
cmake --install "$build" --prefix "$prefix" >/dev/null
test -x "$prefix/bin/einfuse"
test -f "$prefix/include/einfuse/version.h"
"$prefix/bin/einfuse" --version
"$prefix/bin/einfuse" compile "bij,bjk->bik" --target cuda -o "$tmp/bmm.cu"
head -n 1 "$tmp/bmm.cu"

echo "== consumer test: what libeinfuse exports and needs =="
lib=$(find "$prefix" -name 'libeinfuse.so.*.*' | head -n 1)
# Defined global and weak dynamic symbols (upper-case types), demangled: the C ABI's einfuse_*
# or the C++ API's einfuse:: (and templates over its types); never LLVM, fmt, Boost or std's own.
others=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[A-Z]$/ {print $3}' | c++filt | grep -v -e '^einfuse_' -e 'einfuse::' || true)
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[A-Z]$/' | wc -l)
echo "exported: $exported symbols"
if [[ -n $others ]]; then
    echo "libeinfuse exports symbols outside einfuse_* and einfuse:: :" >&2
    echo "$others" | head -n 20 >&2
    exit 1
fi
needed=$(readelf -d "$lib" "$prefix/bin/einfuse" | grep NEEDED || true)
if grep -E 'nvrtc|cublas|libcuda|cudart' <<<"$needed"; then
    echo "libeinfuse or einfuse needs a CUDA library at load time (they are opened at first use)" >&2
    exit 1
fi

echo "== consumer test: CMake project (find_package(einfuse)) =="
cmake -S tests/consumer -B "$tmp/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/build"
"$tmp/build/consumer_c"
"$tmp/build/consumer_cpp"

echo "== consumer test: examples/ against the installed package =="
cmake -S examples -B "$tmp/examples" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/examples"
(cd "$tmp/examples" && ctest --output-on-failure -L e2e)

echo "== consumer test: pkg-config, run from elsewhere without LD_LIBRARY_PATH =="
pcdir=$(dirname "$(find "$prefix" -name einfuse.pc)")
export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pkg-config --modversion einfuse
# As examples/c/einsum.c says to build it: the .pc's Libs carry the rpath.
cc -std=c99 -Wall -Wextra -Werror examples/c/einsum.c -o "$tmp/einsum_pc" $(pkg-config --cflags --libs einfuse)
cc -std=c99 -Wall -Wextra -Werror tests/consumer/consumer.c -o "$tmp/consumer_pc" $(pkg-config --cflags --libs einfuse) -lm
(cd / && env -u LD_LIBRARY_PATH "$tmp/einsum_pc" >/dev/null && env -u LD_LIBRARY_PATH "$tmp/consumer_pc" >/dev/null)
# Moved prefix: the .pc file finds it from its own place.
mv "$prefix" "$tmp/moved"
export PKG_CONFIG_PATH="${pcdir/$prefix/$tmp/moved}"
cc -std=c99 examples/c/einsum.c -o "$tmp/einsum_moved" $(pkg-config --cflags --libs einfuse)
(cd / && env -u LD_LIBRARY_PATH "$tmp/einsum_moved" >/dev/null)

echo "== consumer test: einfuse as a subproject (add_subdirectory, FetchContent) =="
cmake -S tests/consumer/subproject -B "$tmp/sub" -G Ninja -DEINFUSE_SOURCE="$src" >"$tmp/sub.log" 2>&1 ||
    { cat "$tmp/sub.log" >&2; exit 1; }
grep "einfuse subproject:" "$tmp/sub.log"
echo "consumer test: passed"
