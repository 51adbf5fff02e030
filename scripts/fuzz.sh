#!/usr/bin/env bash
# Fuzzes with libFuzzer for N seconds in all (default 30), half on the frontend (einsums and
# index-notation programs, then the passes: tests/fuzz/fuzz_einsum.cpp), a quarter on the .npy
# reader (tests/fuzz/fuzz_npy.cpp) and a quarter on the C ABI (scripts/fuzz-c-abi.sh). Builds the first two with clang++-19 and AddressSanitizer +
# UndefinedBehaviorSanitizer into build-fuzz/ straight from support/, ir/, frontend/ and passes/
# (the project's CMake build uses g++), then runs each on its seed corpus, tests/fuzz/corpus/ and
# tests/fuzz/npy_corpus/. New inputs go to build-fuzz/corpus/ and build-fuzz/npy_corpus/, so the
# committed seeds stay small. Exits non-zero on a crash, leaving the input in build-fuzz/crash-*
# (replay: build-fuzz/fuzz_einsum build-fuzz/crash-..., or fuzz_npy).
# Needs clang-19 and libclang-rt-19-dev (scripts/install-deps.sh), libssl-dev (the disk cache's
# HMAC, in support/), and the Boost and fmt headers in /usr/include (not passed with -isystem:
# that breaks libstdc++'s #include_next).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
cxx=${FUZZ_CXX:-clang++-19}
out=build-fuzz
flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
       -fno-sanitize-recover=undefined -Wall -Wextra -I. -DFMT_HEADER_ONLY)
mkdir -p "$out/obj" "$out/corpus" "$out/npy_corpus"

# Recompiles a source when it, or any header of the layers it sees, is newer than its object.
sources=(support/*.cpp ir/*.cpp frontend/*.cpp passes/*.cpp passes/strategy/*.cpp tests/fuzz/fuzz_einsum.cpp tests/fuzz/fuzz_npy.cpp)
newest_header=$(ls -t support/*.h ir/*.h frontend/*.h passes/*.h passes/strategy/*.h | head -1)
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
support_objects=()
for obj in "${objects[@]}"; do [[ $obj == "$out/obj/support_"* ]] && support_objects+=("$obj"); done
"$cxx" -fsanitize=fuzzer,address,undefined $(printf '%s\n' "${objects[@]}" | grep -v fuzz_npy) -lcrypto -o "$out/fuzz_einsum"
"$cxx" -fsanitize=fuzzer,address,undefined "${support_objects[@]}" "$out/obj/tests_fuzz_fuzz_npy.cpp.o" -lcrypto -o "$out/fuzz_npy"

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
# Half the time on the frontend, a quarter each on the .npy reader and the C ABI's descriptions.
npy_seconds=$((seconds / 4 > 0 ? seconds / 4 : 1))
abi_seconds=$npy_seconds
einsum_seconds=$((seconds - 2 * npy_seconds > 0 ? seconds - 2 * npy_seconds : 1))
echo "fuzz: running fuzz_einsum for ${einsum_seconds}s on tests/fuzz/corpus"
"$out/fuzz_einsum" -max_total_time="$einsum_seconds" -max_len=256 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" tests/fuzz/corpus
# -malloc_limit_mb: one allocation above it is a finding (a size taken from the header unchecked).
echo "fuzz: running fuzz_npy for ${npy_seconds}s on tests/fuzz/npy_corpus"
"$out/fuzz_npy" -max_total_time="$npy_seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 \
    -print_final_stats=1 -artifact_prefix="$out/" "$out/npy_corpus" tests/fuzz/npy_corpus
bash scripts/fuzz-c-abi.sh "$abi_seconds"
