#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: the Release build with every label
# (tests that need a GPU report "skipped" without one), the installed tree built against by a
# separate consumer project (scripts/consumer-test.sh), a short libFuzzer run on the frontend,
# then an AddressSanitizer + UndefinedBehaviorSanitizer build that runs the unit tests again.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/build.sh
(cd build && ctest --output-on-failure --timeout 600)
bash scripts/consumer-test.sh build

echo "== fuzzing the frontend, the .npy reader and the C ABI (libFuzzer, ASan+UBSan, 30 s in all) =="
bash scripts/fuzz.sh 30 2>&1 | grep -E "^fuzz:|Done|ERROR|SUMMARY"

echo "== unit tests under AddressSanitizer and UndefinedBehaviorSanitizer =="
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DEINFUSE_SANITIZE=ON >/dev/null
# The two binaries built here; gemm_emulated_tests (label unit too) runs a CUDA emulation with a
# thread per CUDA thread, too slow for a Debug sanitizer build, and runs above in Release.
cmake --build build-asan --parallel "$(nproc)" --target unit_tests diagnostics_tests
(cd build-asan && ctest --output-on-failure -L unit -R '^(unit_tests|diagnostics_tests)$' --timeout 600)
