#!/usr/bin/env python3
"""First timing of `bij,bjk->bik` on the GPU machine: einfuse's CUDA path next to the peers
installed there, in one run, on one GPU.

einfuse is timed by its own CLI (`run --target cuda --repeat N --json`: CUDA events around each
launch, median). The peers are timed here with CUDA events and medians: torch.bmm, the
written-out product (broadcast-multiply-sum), and a device-to-device copy of the same bytes,
which is the bandwidth bar. Inputs are fresh random values; the large cases exceed L2.

Usage: bench/gpu_first_timing.py EINFUSE_BINARY [OUT_DIR]
"""
import json
import os
import statistics
import subprocess
import sys

import torch

CASES = [  # (D, B)
    (2, 262_144),      # the seed's size (fits in L2: reported as a warm-L2 figure)
    (2, 16_777_216),
    (3, 8_388_608),
    (4, 4_194_304),
    (8, 1_048_576),
    (16, 262_144),
]
REPEAT = 50


def time_cuda(fn, repeat=REPEAT):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e3)
    return statistics.median(times)


def einfuse_us(binary, d, b):
    cmd = [binary, "run", "bij,bjk->bik", "--target", "cuda", "--dims", f"b={b},i={d},j={d},k={d}",
           "--repeat", str(REPEAT), "--json"]
    if b * d * d <= 4_194_304:  # the float64 reference is slow on the host: check the smaller cases
        cmd.append("--check")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return None, f"exit {proc.returncode}: {proc.stderr.strip()[:300]}"
    report = json.loads(proc.stdout)
    return report["median_us"], report.get("check", "not checked")


def main():
    binary = sys.argv[1]
    out_dir = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("OUT", ".")
    props = torch.cuda.get_device_properties(0)
    lines = [f"GPU: {props.name}, {props.multi_processor_count} SMs, L2 {props.L2_cache_size / 2**20:.0f} MiB",
             f"torch {torch.__version__}; fp32; median of {REPEAT} CUDA-event timings", "",
             "| D | B | MB moved | copy us (GB/s) | einfuse us (GB/s, % of copy) | check | torch.bmm us | written-out us |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for d, b in CASES:
        x = torch.rand(b, d, d, device="cuda") * 2 - 1
        y = torch.rand(b, d, d, device="cuda") * 2 - 1
        nbytes = 3 * x.numel() * 4
        src = torch.rand(nbytes // 8, device="cuda")  # read + write of the copy = the bytes einfuse moves
        dst = torch.empty_like(src)
        copy_us = time_cuda(lambda: dst.copy_(src))
        copy_bytes = 2 * src.numel() * 4
        bmm_us = time_cuda(lambda: torch.bmm(x, y))
        written_us = time_cuda(lambda: (x.unsqueeze(3) * y.unsqueeze(1)).sum(2)) if d <= 8 else float("nan")
        ef_us, check = einfuse_us(binary, d, b)
        gb = lambda us, n=nbytes: n / (us * 1e3)
        copy_gbs = gb(copy_us, copy_bytes)
        ef = "failed" if ef_us is None else f"{ef_us:.1f} ({gb(ef_us):.0f}, {100 * gb(ef_us) / copy_gbs:.0f}%)"
        lines.append(f"| {d} | {b} | {nbytes / 1e6:.1f} | {copy_us:.1f} ({copy_gbs:.0f}) | {ef} | {check} | "
                     f"{bmm_us:.1f} | {written_us:.1f} |")
        del x, y, src, dst
        torch.cuda.empty_cache()
    lines += ["", "Gaussian kernel sum out[i] = sum[j](exp(-sum[d]((x[i,d]-y[j,d])^2)) * w[j]), D=3, fp32", "",
              "| N=M | einfuse us | torch eager us |", "| --- | --- | --- |"]
    gauss = "out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])"
    for n in (20_000, 100_000):
        cmd = [binary, "run", gauss, "--target", "cuda", "--dims", f"i={n},j={n},d=3", "--repeat", "10", "--json"]
        if n <= 20_000:
            cmd.append("--check")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        ef = json.loads(proc.stdout)["median_us"] if proc.returncode == 0 else f"exit {proc.returncode}"
        eager = float("nan")
        if n <= 20_000:
            x, y, w = (torch.rand(n, 3, device="cuda"), torch.rand(n, 3, device="cuda"), torch.rand(n, device="cuda"))
            eager = time_cuda(lambda: (torch.exp(-((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)) * w).sum(1), repeat=10)
            del x, y, w
            torch.cuda.empty_cache()
        lines.append(f"| {n} | {ef if isinstance(ef, str) else f'{ef:.1f}'} | {eager:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(out_dir, "gpu_first_timing.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
