#!/usr/bin/env python3
"""Small batched GEMMs on the GPU: `bij,bjk->bik` at D=32, B=65,536 and D=64, B=16,384, the
brief's >= 3.2 / >= 3.0 TB/s rows, in TB/s of (inputs + output) bytes, beside torch.bmm, the
other peers of gpu_bench.py and a device copy of the same bytes, all in one run on one GPU.

Two einfuse numbers per case:
  in-process  the CLI (`run --target cuda --dims ... --repeat N --json`, CUDA events, median):
              whatever kernel the runtime launches for a GEMM (cuBLASLt, or the emitted tiled
              kernel once exec/CudaExecutor.cpp launches it);
  standalone  the emitted tiled GEMM itself: `einfuse compile` writes the .cu, nvcc builds it
              with a small harness that calls `<kernel>_launch`, times it with CUDA events
              (median) and writes the output, which is checked against torch.bmm.
Inputs are random and past L2 (268 MB per operand at D=32, B=65,536).

Usage: bench/gemm_gpu_bench.py EINFUSE_BINARY [OUT_DIR]
Writes OUT_DIR/gemm_gpu_bench.md and OUT_DIR/gemm_gpu_bench.json.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_bench import REPEAT, best_peer, bmm_peers, einfuse_us  # noqa: E402  (torch comes with it)

import torch  # noqa: E402

CASES = [(32, 65_536, 3.2), (64, 16_384, 3.0)]  # (D, B, the brief's TB/s target)
NVCC = os.environ.get("NVCC", "/usr/local/cuda/bin/nvcc")

HARNESS = r"""
#include "kernel.cu"
#include <stdio.h>
#include <stdlib.h>
static void *load(const char *path, size_t bytes) {
    void *host = malloc(bytes), *dev = NULL;
    FILE *f = fopen(path, "rb");
    if (!f || fread(host, 1, bytes, f) != bytes) exit(3);
    fclose(f);
    if (cudaMalloc(&dev, bytes) != cudaSuccess) exit(4);
    cudaMemcpy(dev, host, bytes, cudaMemcpyHostToDevice);
    free(host);
    return dev;
}
static int cmp(const void *a, const void *b) { float x = *(const float *)a, y = *(const float *)b; return (x > y) - (x < y); }
int main(int argc, char **argv) {
    const int64_t B = atoll(argv[1]), D = atoll(argv[2]);
    const size_t bytes = (size_t)(B * D * D) * sizeof(float);
    void *a = load(argv[3], bytes), *b = load(argv[4], bytes), *c = NULL;
    if (cudaMalloc(&c, bytes) != cudaSuccess) return 4;
    int64_t shape[3] = {B, D, D}, strides[3] = {D * D, D, 1};
    einfuse_tensor in[2] = {{a, 3, shape, strides}, {b, 3, shape, strides}}, out = {c, 3, shape, strides};
    int64_t sizes[4];
    for (int v = 0; v < 4; ++v) sizes[v] = SIZE_IS_BATCH[v] ? B : D;
    float times[REPEATS];
    cudaEvent_t start, end;
    cudaEventCreate(&start);
    cudaEventCreate(&end);
    if (KERNEL_launch(in, 2, &out, sizes, 4, 0) != EINFUSE_OK || cudaDeviceSynchronize() != cudaSuccess) return 5;
    for (int r = 0; r < REPEATS; ++r) {
        cudaEventRecord(start, 0);
        KERNEL_launch(in, 2, &out, sizes, 4, 0);
        cudaEventRecord(end, 0);
        cudaEventSynchronize(end);
        cudaEventElapsedTime(&times[r], start, end);
    }
    qsort(times, REPEATS, sizeof(float), cmp);
    void *host = malloc(bytes);
    cudaMemcpy(host, c, bytes, cudaMemcpyDeviceToHost);
    FILE *f = fopen(argv[5], "wb");
    fwrite(host, 1, bytes, f);
    fclose(f);
    printf("%f\n", times[REPEATS / 2] * 1e3);
    return cudaGetLastError() == cudaSuccess ? 0 : 6;
}
"""


def standalone_us(binary, d, b, workdir):
    """The emitted tiled GEMM's median time through its standalone launcher, and its largest
    relative error against torch.bmm on the same inputs; or (None, why)."""
    cu = os.path.join(workdir, "kernel.cu")
    dims = f"b={b},i={d},j={d},k={d}"
    proc = subprocess.run([binary, "compile", "bij,bjk->bik", "--dims", dims, "-o", cu], capture_output=True, text=True)
    if proc.returncode != 0:
        return None, f"compile: {proc.stderr.strip()[:200]}"
    text = open(cu).read()
    kernel = "einfuse_bij_bjk_to_bik"
    # The launcher's sizes are in the order its header comment lists them.
    order = text.split(f"// {kernel}_launch\n", 1)[1].split("//   sizes:  ", 1)[1].split(" (", 1)[0].split(", ")
    batch = ",".join("1" if v == "b" else "0" for v in order)
    harness = HARNESS.replace("KERNEL", kernel).replace("REPEATS", str(REPEAT))
    harness = harness.replace("SIZE_IS_BATCH[v]", f"((const int[]){{{batch}}})[v]")
    with open(os.path.join(workdir, "main.cu"), "w") as f:
        f.write(harness)
    exe = os.path.join(workdir, "main")
    proc = subprocess.run([NVCC, "-O3", "-arch=native", "-o", exe, os.path.join(workdir, "main.cu")],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return None, f"nvcc: {proc.stderr.strip()[:300]}"
    a = torch.randn(b, d, d)
    c = torch.randn(b, d, d)
    paths = [os.path.join(workdir, n) for n in ("a.bin", "b.bin", "out.bin")]
    a.numpy().tofile(paths[0])
    c.numpy().tofile(paths[1])
    proc = subprocess.run([exe, str(b), str(d), *paths], capture_output=True, text=True)
    if proc.returncode != 0:
        return None, f"harness exit {proc.returncode}: {proc.stdout.strip()[:200]}"
    got = torch.from_file(paths[2], size=b * d * d, dtype=torch.float32).reshape(b, d, d)
    want = torch.bmm(a.cuda().double(), c.cuda().double()).cpu()
    err = ((got.double() - want).abs() / want.abs().clamp(min=1.0)).max().item()
    return float(proc.stdout.strip()), f"max rel err {err:.2e}"


def main():
    binary = sys.argv[1]
    out_dir = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("OUT", ".")
    props = torch.cuda.get_device_properties(0)
    lines = [f"# einfuse small batched GEMM\n\n{time.strftime('%Y-%m-%d')}, {props.name}, torch {torch.__version__}, "
             "fp32, medians of CUDA events, TB/s of inputs + output\n",
             "| case | target | copy | einfuse in-process | einfuse standalone (tiled GEMM) | torch.bmm | best peer | check |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for d, b, target in CASES:
            nbytes = 3 * b * d * d * 4
            tbs = lambda us: nbytes / us / 1e6 if us else None  # noqa: E731
            fmt = lambda us: f"{us:.0f} us, {tbs(us):.2f} TB/s" if us else "-"  # noqa: E731
            us, check = einfuse_us(binary, "bij,bjk->bik", f"b={b},i={d},j={d},k={d}")
            alone_us, alone_check = standalone_us(binary, d, b, workdir)
            peers, copy_us = bmm_peers(d, b, compile_peers=False)
            peer_us, peer = best_peer(peers)
            bmm_us = peers["torch.bmm"][0]
            rows.append({"case": f"bij,bjk->bik D={d} B={b}", "bytes": nbytes, "target_TBps": target,
                         "copy_us": copy_us, "einfuse_us": us, "standalone_us": alone_us,
                         "standalone_check": alone_check, "peers": {k: v[0] for k, v in peers.items()},
                         "peer_notes": {k: v[1] for k, v in peers.items() if v[1]}})
            lines.append(f"| D={d} B={b:,} | >= {target} TB/s | {fmt(copy_us)} | {fmt(us) if us else check} | "
                         f"{fmt(alone_us) if alone_us else alone_check} | {fmt(bmm_us)} | {peer}: {fmt(peer_us)} | "
                         f"{alone_check} |")
            print(lines[-1], flush=True)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "gemm_gpu_bench.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out_dir, "gemm_gpu_bench.json"), "w") as f:
        json.dump({"device": props.name, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
