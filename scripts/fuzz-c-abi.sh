#!/usr/bin/env bash
# Fuzzes the C ABI's tensor descriptions (tests/fuzz/fuzz_c_abi.cpp) with libFuzzer for N seconds
# (default 10): the harness is built with clang++-19 and AddressSanitizer + UndefinedBehaviorSanitizer
# and linked against the Release build's libeinfuse (build/, or $EINFUSE_BUILD_DIR), which it
# calls as a framework would; its findings are crashes, aborts on a wrong status, and ASan's
# reports on the harness's buffers. New inputs go to build-fuzz/corpus-c-abi/, crashes to
# build-fuzz/c-abi-crash-* (replay: build-fuzz/fuzz_c_abi build-fuzz/c-abi-crash-...).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-10}
cxx=${FUZZ_CXX:-clang++-19}
build=${EINFUSE_BUILD_DIR:-build}
out=build-fuzz
mkdir -p "$out/corpus-c-abi"
cmake --build "$build" --target einfuse_shared >/dev/null
lib=$(cd "$build/api" && pwd)
if [[ ! -f $out/fuzz_c_abi || tests/fuzz/fuzz_c_abi.cpp -nt $out/fuzz_c_abi || include/einfuse/einfuse.h -nt $out/fuzz_c_abi ]]; then
    "$cxx" -std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=undefined -Wall -Wextra -Iinclude tests/fuzz/fuzz_c_abi.cpp \
        -L"$lib" -leinfuse -Wl,-rpath,"$lib" -o "$out/fuzz_c_abi"
fi

echo "fuzz: C ABI descriptions for ${seconds}s on tests/fuzz/corpus-c-abi"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} # the compile cache and LLVM live until exit
"$out/fuzz_c_abi" -max_total_time="$seconds" -max_len=512 -timeout=30 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$out/c-abi-" "$out/corpus-c-abi" tests/fuzz/corpus-c-abi
