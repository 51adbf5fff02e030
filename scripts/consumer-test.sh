#!/usr/bin/env bash
# Installs build/ into a temporary prefix and builds tests/consumer against that tree alone:
# with CMake (find_package(einfuse)) and with pkg-config; runs the programs and examples/c.
#   scripts/consumer-test.sh [build-dir]     (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

echo "== consumer test: install into $prefix =="
cmake --install "$build" --prefix "$prefix" >/dev/null
test -x "$prefix/bin/einfuse"
"$prefix/bin/einfuse" compile "bij,bjk->bik" --target cuda -o "$tmp/bmm.cu"
head -n 1 "$tmp/bmm.cu"

echo "== consumer test: CMake project (find_package(einfuse)) =="
cmake -S tests/consumer -B "$tmp/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/build"
"$tmp/build/consumer_c"
"$tmp/build/consumer_cpp"
"$tmp/build/example_einsum_c" >/dev/null

echo "== consumer test: pkg-config =="
libdir=$(dirname "$(find "$prefix" -name einfuse.pc)")
export PKG_CONFIG_PATH="$libdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pkg-config --modversion einfuse
cc -std=c99 -Wall -Wextra -Werror tests/consumer/consumer.c -o "$tmp/consumer_pc" \
    $(pkg-config --cflags --libs einfuse) -lm -Wl,-rpath,"$(pkg-config --variable=libdir einfuse)"
"$tmp/consumer_pc" >/dev/null
echo "consumer test: passed"
