#!/usr/bin/env python3
"""Host time of a cached einfuse.einsum call against torch.einsum (and numpy.einsum on the host).

    PYTHONPATH=python EINFUSE_LIBRARY=build/api/libeinfuse.so python3 bench/python_overhead.py [--json]

On CUDA (when torch sees a GPU) the time is what the Python thread spends per call, calls queued
back to back with no synchronisation inside the loop (the work is small, so the GPU keeps up); on
the host the call also computes, so the problems are tiny and a cached call's cost is mostly
dispatch. Median of 7 rounds of N calls. The brief's target: <= 10 us and <= torch.einsum on CUDA."""
import json
import statistics
import sys
import time

import numpy as np

import einfuse

CASES = [("bij,bjk->bik", [(1024, 2, 2), (1024, 2, 2)]),
         ("bij,bjk->bik", [(16, 3, 3), (16, 3, 3)]),
         ("nc,nc->n", [(256, 8), (256, 8)])]


def per_call_us(fn, n, sync=None, rounds=7):
    fn()
    fn()
    times = []
    for _ in range(rounds):
        if sync:
            sync()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t0) / n * 1e6)
        if sync:
            sync()
    return statistics.median(times)


def c_abi_run_fn(expr, ops):
    """einfuse_run_on_stream alone on the cached kernel, inputs and output already filled in:
    what the C ABI and the kernel cost, without the Python layer."""
    from einfuse import _core, _lib
    out = einfuse.einsum(expr, *ops)
    e = _core.entry_for(expr, "", ops)
    keep = [f(x) for f, x in zip(e.fills, ops)] + [e.out_fills[0](out), out, ops]  # alive while timed
    stream = e.out_adapter.stream(e.device[1]) if e.device[0] == _lib.KDLCUDA else None
    run, h, n_in, ins, outs = _lib.run_on_stream, e.kernel.handle, e.n_in, e.ins, e.outs
    return lambda: (run(h, n_in, ins, 1, outs, stream), keep)


def c_abi_us(expr, ops, n, sync):
    return per_call_us(c_abi_run_fn(expr, ops), n, sync)


def main():
    rows = []
    try:
        import torch
    except ImportError:
        torch = None
    device = "cuda" if torch is not None and torch.cuda.is_available() else "cpu"
    n = 20000 if device == "cuda" else 5000
    for expr, shapes in CASES:
        if torch is not None:
            ops = [torch.randn(*s, device=device) for s in shapes]
            sync = torch.cuda.synchronize if device == "cuda" else None
            with torch.no_grad():
                e = per_call_us(lambda: einfuse.einsum(expr, *ops), n, sync)
                t = per_call_us(lambda: torch.einsum(expr, *ops), n, sync)
                c = c_abi_us(expr, ops, n, sync)
            rows.append({"framework": "torch", "device": device, "expr": expr, "shapes": shapes,
                         "einfuse_us": round(e, 2), "torch_einsum_us": round(t, 2), "c_abi_run_us": round(c, 2)})
        ops = [np.random.rand(*s).astype(np.float32) for s in shapes]
        e = per_call_us(lambda: einfuse.einsum(expr, *ops), n)
        t = per_call_us(lambda: np.einsum(expr, *ops), n)
        c = c_abi_us(expr, ops, n, None)
        rows.append({"framework": "numpy", "device": "cpu", "expr": expr, "shapes": shapes,
                     "einfuse_us": round(e, 2), "numpy_einsum_us": round(t, 2), "c_abi_run_us": round(c, 2)})
    if "--json" in sys.argv:
        print(json.dumps(rows, indent=1))
        return
    for r in rows:
        peer = "torch.einsum" if r["framework"] == "torch" else "numpy.einsum"
        peer_us = r.get("torch_einsum_us", r.get("numpy_einsum_us"))
        print("%-6s %-4s %-14s %-10s einfuse.einsum %7.2f us   %s %7.2f us   (C ABI run alone %6.2f us)" % (
            r["framework"], r["device"], r["expr"], "x".join(map(str, r["shapes"][0])), r["einfuse_us"], peer,
            peer_us, r["c_abi_run_us"]))


if __name__ == "__main__":
    main()
