#!/usr/bin/env bash
# Fuzzes the frontend (einsums and index-notation programs, then the passes) (tests/fuzz/fuzz_einsum.cpp) with libFuzzer for N seconds
# (default 30): builds it with clang++-19 and AddressSanitizer + UndefinedBehaviorSanitizer into
# build-fuzz/ straight from support/, ir/ and frontend/ (the project's CMake build uses g++), then
# runs it on the seed corpus tests/fuzz/corpus/. New inputs it finds go to build-fuzz/corpus/, so
# the committed seeds stay small. Exits non-zero on a crash, leaving the input in
# build-fuzz/crash-* (replay: build-fuzz/fuzz_einsum build-fuzz/crash-...).
# Needs clang-19 and libclang-rt-19-dev (scripts/install-deps.sh), and the Boost and fmt headers
# in /usr/include (not passed with -isystem: that breaks libstdc++'s #include_next).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
cxx=${FUZZ_CXX:-clang++-19}
out=build-fuzz
flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
       -fno-sanitize-recover=undefined -Wall -Wextra -I. -DFMT_HEADER_ONLY)
mkdir -p "$out/obj" "$out/corpus"

# Recompiles a source when it, or any header of the layers it sees, is newer than its object.
sources=(support/*.cpp ir/*.cpp frontend/*.cpp passes/*.cpp tests/fuzz/fuzz_einsum.cpp)
newest_header=$(ls -t support/*.h ir/*.h frontend/*.h | head -1)
objects=()
stale=()
for src in "${sources[@]}"; do
    obj="$out/obj/$(echo "$src" | tr / _).o"
    objects+=("$obj")
    if [[ ! -f $obj || $src -nt $obj || $newest_header -nt $obj || $0 -nt $obj ]]; then stale+=("$src"); fi
done
export cxx out flags_text="${flags[*]}" # xargs' shells get the flags as a string (none has spaces)
if ((${#stale[@]})); then
    echo "fuzz: compiling ${#stale[@]} files with $cxx"
    printf '%s\n' "${stale[@]}" |
        xargs -P "$(nproc)" -I{} bash -c 'flags=($flags_text); "$cxx" "${flags[@]}" -c "$1" -o "$out/obj/$(echo "$1" | tr / _).o"' _ {}
fi
"$cxx" -fsanitize=fuzzer,address,undefined "${objects[@]}" -o "$out/fuzz_einsum"

echo "fuzz: running for ${seconds}s on tests/fuzz/corpus"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
"$out/fuzz_einsum" -max_total_time="$((seconds - seconds / 3))" -max_len=256 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" tests/fuzz/corpus
# A third of the time: the C ABI's tensor descriptions (tests/fuzz/fuzz_c_abi.cpp).
bash scripts/fuzz-c-abi.sh "$((seconds / 3))"
