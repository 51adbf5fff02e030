#!/usr/bin/env bash
# Builds, here, what runs on the GPU machine (which has neither LLVM nor Boost): a Release build
# without the LLVM host backend, stripped, into .gpu-carry/ (git-ignored, well under the 64 MiB
# that may travel). Then run scripts/gpu-check.sh there with `.gpu-carry` carried.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
$SUDO bash scripts/install-deps.sh

cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DEINFUSE_ENABLE_LLVM=OFF >/dev/null
cmake --build build-gpu --parallel "$(nproc)"
rm -rf .gpu-carry && mkdir -p .gpu-carry
cp build-gpu/tools/einfuse .gpu-carry/
for t in gpu_tests golden_tests cli_tests unit_tests shape_class_tests; do
    [[ -x build-gpu/tests/$t ]] && cp "build-gpu/tests/$t" .gpu-carry/
done
cp build-gpu/bench/gpu_call_overhead .gpu-carry/
cp -L build-gpu/api/libeinfuse.so .gpu-carry/ # the Python package's library (docs/python.md)
# and its compiled call path, found beside the library (built where this machine has python3-dev)
[[ -f build-gpu/api/_fastcall.abi3.so ]] && cp build-gpu/api/_fastcall.abi3.so .gpu-carry/
strip .gpu-carry/*
# dlpack/dlpack.h, which einfuse.h includes, for the JAX XLA handler the Python package compiles
# there at the first jax.jit use (python/einfuse/_xla.py looks in .gpu-carry/include).
mkdir -p .gpu-carry/include && cp -r /usr/include/dlpack .gpu-carry/include/
# The disk cache authenticates entries with OpenSSL's libcrypto (Debian 12: libcrypto.so.3); the
# GPU machine may lack it, so it travels along and gpu-check.sh uses it only where it is missing.
mkdir -p .gpu-carry/lib
cp -L "$(ldd .gpu-carry/einfuse | awk '/libcrypto/ {print $3}')" .gpu-carry/lib/
du -sh .gpu-carry
