#!/usr/bin/env bash
# Runs on the GPU machine, in the repository root, with .gpu-carry/ (from scripts/gpu-build.sh)
# beside it. `tests`: the gpu, golden and cli tests, CLI runs checked against the reference, and
# compute-sanitizer memcheck and racecheck on the staged, tiled and GEMM kernels. `bench`: the
# benchmark of the brief's table against the installed peers (bench/gpu_bench.py; `quick` skips
# torch.compile), the small batched GEMMs (bench/gemm_gpu_bench.py) and the .cu without --dims against
# the sized one (bench/unsized_vs_sized.py). `tests` in two device calls: `label` (Python and the
# host time of cached C++ and Python calls first, then the gpu label, shape classes, cli) and
# `rest` (CLI runs, sanitizers, golden). `compare`: bench/gpu_before_after.py
# against an earlier build in .gpu-carry/base/. `gemm-sanitizer`: only the sanitizers' runs of the GEMM
# tests' child processes (the slowest part of `rest`). Default: tests, then the quick benchmark. Results go to $OUT (or ./gpu-results).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-results}
mkdir -p "$OUT"
export EINFUSE_SOURCE_DIR=$PWD EINFUSE_CLI=$PWD/.gpu-carry/einfuse
bin=.gpu-carry
if ldd $bin/einfuse | grep -q "not found"; then # libcrypto from gpu-build.sh, only where missing
    export LD_LIBRARY_PATH=$PWD/$bin/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
GAUSS="out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])"
status=0

step() { echo; echo "== $* =="; }
run() { "$@" || { echo "FAILED ($?): $*"; status=1; }; }
python_tests() {
    step "python: torch CUDA, torch.compile, autograd, JAX and CuPy (python/tests, docs/python.md)"
    if python3 -c "import pytest" 2>/dev/null; then
        run env EINFUSE_LIBRARY=$PWD/$bin/libeinfuse.so PYTHONPATH=$PWD/python python3 -m pytest -q -rs -p no:cacheprovider python/tests
    else # no pytest in that environment: the same tests through a stand-in runner
        run env EINFUSE_LIBRARY=$PWD/$bin/libeinfuse.so PYTHONPATH=$PWD/python python3 python/tests/minipytest.py
    fi
}

what=${1:-all}
{
    step "device"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    if [[ $what == compare ]]; then # .gpu-carry/base/einfuse: an earlier build, the same cases side by side
        step "benchmark: before (.gpu-carry/base) and after, alternating on this GPU"
        run python3 bench/gpu_before_after.py $bin/base/einfuse $bin/einfuse "$OUT"
        exit $status
    fi
    if [[ $what == gemm-sanitizer ]]; then # the child-process runs that `rest` has never reached the end of
        for tool in memcheck racecheck; do
            step "compute-sanitizer $tool, following child processes: the GEMM tests' standalone programs"
            SECONDS=0
            run compute-sanitizer --tool $tool --target-processes all --error-exitcode 9 $bin/gpu_tests \
                --test-case="gpu gemm: the rule*,gpu gemm: transposed*"
            echo "$tool: ${SECONDS} s"
        done
        exit $status
    fi
    if [[ $what == bench ]]; then
        step "host time of a cached call (public C++ API, device arrays)"
        run $bin/gpu_call_overhead
        step "benchmark: the brief's table against the peers"
        run python3 bench/gpu_bench.py $bin/einfuse "$OUT"
        step "the seed's forum benchmark from Python: torch.bmm, torch.compile written-out, einfuse (examples/python)"
        run env EINFUSE_LIBRARY=$PWD/$bin/libeinfuse.so PYTHONPATH=$PWD/python OUT=$OUT python3 examples/python/batched_small_matmul.py
        step "host time of a cached Python call: einfuse.einsum against torch.einsum (bench/python_overhead.py)"
        run env EINFUSE_LIBRARY=$PWD/$bin/libeinfuse.so PYTHONPATH=$PWD/python python3 bench/python_overhead.py
        step "benchmark: small batched GEMMs (D=32, D=64) in TB/s, in-process and the emitted tiled kernel"
        run python3 bench/gemm_gpu_bench.py $bin/einfuse "$OUT"
        step "benchmark: the .cu without --dims against the .cu with them, the table's cases (issue 17: within 1.5x)"
        run python3 bench/unsized_vs_sized.py $bin/einfuse "$OUT"
        exit $status
    fi
    if [[ $what == label ]]; then # first, the minutes-short part: the Python layer and the call's host time
        python_tests
        step "host time of a cached call (public C++ API, device arrays)"
        run $bin/gpu_call_overhead
        step "host time of a cached Python call: einfuse.einsum against torch.einsum (bench/python_overhead.py)"
        run env EINFUSE_LIBRARY=$PWD/$bin/libeinfuse.so PYTHONPATH=$PWD/python python3 bench/python_overhead.py
    fi
    if [[ $what != rest ]]; then
        step "tests: gpu (per test case times; the whole label should take under 5 minutes)"
        SECONDS=0
        run $bin/gpu_tests --duration=true
        echo "gpu_tests: ${SECONDS} s"
        step "tests: shape classes (guards complete: a plan reused for sizes in its class equals a fresh one)"
        run $bin/shape_class_tests
        [[ $what == label ]] || python_tests
        step "tests: cli (host target is not in this build: its cases report exit 4)"
        # Left out: the cases that run on the host target (this build has no LLVM).
        run $bin/cli_tests --test-case-exclude="*README*,*--json*,*--input*,programs*,*split across threads*,\
run --output is atomic*,run --dtype c64/c128*,cli messages: a worker thread*,cli messages: EINFUSE_CACHE_DIR*,\
--check: NaN*,--check: a sum of 2^25*,opt_einsum's test_large_path*,cli usage: --dims repeats*,cli usage: the disk cache*"
        [[ $what == label ]] && exit $status
    fi
    step "einfuse run on the GPU, checked against the float64 reference"
    for dims in b=262144,i=2,j=2,k=2 b=100000,i=3,j=3,k=3 b=4096,i=16,j=16,k=16 b=7,i=5,j=300,k=2; do
        run $bin/einfuse run "bij,bjk->bik" --target cuda --dims $dims --check --repeat 20
    done
    run $bin/einfuse run "ij,jk->ik" --target cuda --shape 0=300x200 --shape 1=200x1 --dtype f64 --check
    for t in f16 bf16 i32 i64; do run $bin/einfuse run "bij,bjk->bik" --target cuda --dims b=100000,i=3,j=4,k=5 --dtype $t --check; done
    run $bin/einfuse run "...ij,jk,kl->...il" --target cuda --shape 0=7x64x64 --shape 1=64x64 --shape 2=64x5 --check
    run $bin/einfuse run "out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])" --target cuda --dims i=3000,j=2000,d=3 --check
    run $bin/einfuse run "m[i] = max[j](S[i,j]); e[i,j] = exp(S[i,j] - m[i]); s[i] = sum[j](e[i,j]); out[i,j] = e[i,j] / s[i]" --target cuda --dims i=512,j=1000 --check
    step "compute-sanitizer memcheck and racecheck: plain, staged and tiled kernels"
    for tool in memcheck racecheck; do
        run compute-sanitizer --tool $tool --error-exitcode 9 $bin/einfuse run "bij,bjk->bik" --target cuda --dims b=1000,i=3,j=2,k=3 --check
        run compute-sanitizer --tool $tool --error-exitcode 9 $bin/einfuse run "bij,bjk->bik" --target cuda --dims b=1001,i=4,j=4,k=4 --check
        run compute-sanitizer --tool $tool --error-exitcode 9 $bin/einfuse run "$GAUSS" --target cuda --dims i=700,j=3000,d=3 --check
    done
    run compute-sanitizer --tool memcheck --error-exitcode 9 $bin/gpu_tests --test-case="gpu staged*,gpu tiled*"
    # The emitted GEMM kernels in process (NVRTC), each shape the rule picks: small dense, the
    # general tile, skinny (m64), tensor cores in f16 and bf16, transposed operands, an epilogue.
    # Seconds each, where the test cases below follow nvcc into child processes for minutes.
    RELU="D[i,k] = relu(sum[j](A[i,j] * B[j,k]) + bias[k])"
    for tool in memcheck racecheck; do
        run compute-sanitizer --tool $tool --error-exitcode 9 $bin/einfuse run "bij,bjk->bik" --target cuda --dims b=300,i=32,j=32,k=32 --check
        run compute-sanitizer --tool $tool --error-exitcode 9 $bin/einfuse run "bij,bjk->bik" --target cuda --dims b=100,i=64,j=64,k=64 --dtype f16 --check
        run compute-sanitizer --tool $tool --error-exitcode 9 $bin/einfuse run "ij,jk->ik" --target cuda --dims i=520,j=300,k=390 --gemm emitted --check
        run compute-sanitizer --tool $tool --error-exitcode 9 $bin/einfuse run "ij,jk->ik" --target cuda --dims i=64,j=1000,k=3000 --gemm emitted --check
        run compute-sanitizer --tool $tool --error-exitcode 9 $bin/einfuse run "ij,jk->ik" --target cuda --dims i=130,j=115,k=33 --dtype f16 --gemm emitted --check
        run compute-sanitizer --tool $tool --error-exitcode 9 $bin/einfuse run "bji,bkj->bik" --target cuda --dims b=5,i=33,j=65,k=47 --gemm emitted --check
        run compute-sanitizer --tool $tool --error-exitcode 9 $bin/einfuse run "$RELU" --target cuda --dims i=150,j=96,k=200 --dtype bf16 --gemm emitted --check
    done
    # The GEMM tests run their kernels in child processes (standalone programs): followed.
    for tool in memcheck racecheck; do
        run compute-sanitizer --tool $tool --target-processes all --error-exitcode 9 $bin/gpu_tests \
            --test-case="gpu gemm: the rule*,gpu gemm: transposed*"
    done
    # Last: nvcc compiles of every golden file are the slowest part and need the GPU least.
    step "tests: golden (nvcc and NVRTC compile the emitted .cu)"
    run $bin/golden_tests
    [[ $what == tests ]] && exit $status
    step "host time of a cached call (public C++ API, device arrays)"
    run $bin/gpu_call_overhead
    step "host time of a cached Python call: einfuse.einsum against torch.einsum (bench/python_overhead.py)"
    run env EINFUSE_LIBRARY=$PWD/$bin/libeinfuse.so PYTHONPATH=$PWD/python python3 bench/python_overhead.py
    step "benchmark (quick: no torch.compile)"
    run python3 bench/gpu_bench.py $bin/einfuse "$OUT" --quick
    exit $status
} 2>&1 | tee "$OUT/gpu-check.log"
exit ${PIPESTATUS[0]}
