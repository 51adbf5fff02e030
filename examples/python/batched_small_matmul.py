#!/usr/bin/env python3
"""The seed's forum benchmark: a batch of 2x2 (and 3x3) matrix products.

torch.bmm sends each tiny product through a batched GEMM; the product written out by hand and
compiled by torch.compile is many times faster; einfuse.einsum("bij,bjk->bik") chooses an
unrolled kernel by itself, eagerly and inside torch.compile. On CUDA when there is a GPU
(CUDA-event medians), else on the host (wall-clock medians; torch.compile only where it runs).

    python3 examples/python/batched_small_matmul.py [--batch N] [--repeat R]

Writes its table to stdout, and to $OUT/batched_small_matmul.txt when OUT is set."""
import argparse
import os
import statistics
import time

import torch

import einfuse


def timer(device, repeat):
    def run(fn):
        fn()
        fn()
        times = []
        for _ in range(repeat):
            if device == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end) * 1e3)
            else:
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1e6)
        return statistics.median(times)
    return run


def written_out(d):
    def product(x, y):
        return torch.stack([torch.stack([sum(x[:, i, j] * y[:, j, k] for j in range(d)) for k in range(d)], -1)
                            for i in range(d)], -2)
    return product


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, nargs="*", default=None)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    batches = args.batch or ([262_144, 16_777_216] if device == "cuda" else [262_144])
    run = timer(device, args.repeat)
    can_compile = hasattr(torch, "compile")
    lines = ["device: %s (%s), torch %s, einfuse %s" % (
        device, torch.cuda.get_device_name() if device == "cuda" else "host", torch.__version__, einfuse.__version__),
        "%-3s %-10s %-34s %12s %10s  %s" % ("D", "batch", "method", "median us", "GB/s", "max |err|")]
    for d in (2, 3):
        for b in batches:
            a = torch.randn(b, d, d, device=device)
            c = torch.randn(b, d, d, device=device)
            want = torch.bmm(a, c)
            methods = [("torch.bmm", lambda: torch.bmm(a, c)),
                       ("einfuse.einsum", lambda: einfuse.einsum("bij,bjk->bik", a, c))]
            if can_compile:
                try:
                    w = torch.compile(written_out(d))
                    w(a, c)
                    methods.insert(1, ("torch.compile written-out", lambda: w(a, c)))
                    e = torch.compile(lambda x, y: einfuse.einsum("bij,bjk->bik", x, y), fullgraph=True)
                    e(a, c)
                    methods.append(("torch.compile(einfuse.einsum)", lambda: e(a, c)))
                except Exception as err:  # noqa: BLE001 - a peer that cannot compile here is a result
                    lines.append("    torch.compile unavailable: %s" % str(err).splitlines()[0][:100])
            nbytes = 3 * b * d * d * 4
            with torch.no_grad():
                for name, fn in methods:
                    us = run(fn)
                    err = float((fn() - want).abs().max())
                    lines.append("%-3d %-10d %-34s %12.1f %10.1f  %.1e" % (d, b, name, us, nbytes / us / 1e3, err))
    text = "\n".join(lines)
    print(text)
    if os.environ.get("OUT"):
        with open(os.path.join(os.environ["OUT"], "batched_small_matmul.txt"), "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
