#!/usr/bin/env python3
"""The brief's GPU performance table, einfuse next to the peers installed on the GPU machine, in
one run on one GPU: PyTorch eager, torch.compile, JAX, and a device-to-device copy of the same
bytes (the bandwidth bar).

einfuse is timed by its own CLI (`run --target cuda --repeat N --json`: CUDA events around each
launch, median); the peers here with CUDA events (torch) or wall time around
block_until_ready (JAX), medians too. Inputs are fresh random values, larger than L2 except the
seed's size, which is reported as what it is (warm L2, launch-bound).

Usage: bench/gpu_bench.py EINFUSE_BINARY [OUT_DIR] [--quick]   (--quick: no torch.compile)
Writes OUT_DIR/gpu_bench.md and OUT_DIR/gpu_bench.json.
"""
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # leave the GPU to the others too

import torch

REPEAT = 30
GAUSS = "out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])"
BMM_CASES = [  # (D, B, the peer the brief names best)
    (2, 262_144), (2, 16_777_216), (3, 8_388_608), (4, 4_194_304), (8, 1_048_576), (16, 262_144),
]
GAUSS_CASES = [20_000, 100_000, 1_000_000]


def time_torch(fn, repeat=REPEAT):
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


def time_jax(fn, args, repeat=REPEAT):
    fn(*args).block_until_ready()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args).block_until_ready()
        times.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(times)


def einfuse_us(binary, expr, dims, repeat=REPEAT, check=False):
    cmd = [binary, "run", expr, "--target", "cuda", "--dims", dims, "--repeat", str(repeat), "--json"]
    if check:
        cmd.append("--check")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return None, f"exit {proc.returncode}: {proc.stderr.strip()[:200]}"
    report = json.loads(proc.stdout)
    return report["median_us"], report.get("check", "not checked")


def guarded(fn):
    """A peer's time in us, or its failure (out of memory, compile error) in words."""
    try:
        return fn(), ""
    except Exception as e:  # noqa: BLE001 - a peer's failure is a result, not a crash
        torch.cuda.empty_cache()
        return None, f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"


def bmm_peers(d, b, compile_peers):
    a = torch.randn(b, d, d, device="cuda")
    c = torch.randn(b, d, d, device="cuda")
    out = {}
    out["torch.bmm"] = guarded(lambda: time_torch(lambda: torch.bmm(a, c)))
    bsum = lambda x, y: (x[:, :, :, None] * y[:, None, :, :]).sum(2)
    out["torch broadcast-sum"] = guarded(lambda: time_torch(lambda: bsum(a, c)))
    if compile_peers:
        if d <= 3:  # the written-out product, the brief's best peer at D=2 and 3
            def written(x, y):
                return torch.stack([torch.stack([sum(x[:, i, j] * y[:, j, k] for j in range(d)) for k in range(d)], -1)
                                    for i in range(d)], -2)
            f = torch.compile(written)
            out["torch.compile written-out"] = guarded(lambda: time_torch(lambda: f(a, c)))
        else:
            f = torch.compile(bsum)
            out["torch.compile broadcast-sum"] = guarded(lambda: time_torch(lambda: f(a, c)))
    try:
        import jax
        import jax.numpy as jnp
        ja, jc = jnp.asarray(a.cpu().numpy()), jnp.asarray(c.cpu().numpy())
        f = jax.jit(lambda x, y: jnp.einsum("bij,bjk->bik", x, y))
        out["jax.jit einsum"] = guarded(lambda: time_jax(f, (ja, jc)))
        del ja, jc
    except ImportError:
        out["jax.jit einsum"] = (None, "jax not installed")
    # A copy that moves the product's bytes: it reads half of them and writes the other half.
    src = torch.randn(3 * b * d * d // 2, device="cuda")
    dst = torch.empty_like(src)
    copy_us = time_torch(lambda: dst.copy_(src))
    del a, c, src, dst
    torch.cuda.empty_cache()
    return out, copy_us


def gauss_peers(n, compile_peers):
    out = {}
    if n > 100_000:
        return out
    x, y, w = torch.randn(n, 3, device="cuda"), torch.randn(n, 3, device="cuda"), torch.randn(n, device="cuda")
    eager = lambda x, y, w: (torch.exp(-((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)) * w[None, :]).sum(1)
    out["torch eager"] = guarded(lambda: time_torch(lambda: eager(x, y, w), repeat=5))
    if compile_peers:
        f = torch.compile(eager)
        out["torch.compile"] = guarded(lambda: time_torch(lambda: f(x, y, w), repeat=10))
    try:
        import jax
        import jax.numpy as jnp
        jx, jy, jw = (jnp.asarray(t.cpu().numpy()) for t in (x, y, w))
        f = jax.jit(lambda x, y, w: (jnp.exp(-((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)) * w[None, :]).sum(1))
        out["jax.jit"] = guarded(lambda: time_jax(f, (jx, jy, jw), repeat=10))
    except ImportError:
        out["jax.jit"] = (None, "jax not installed")
    del x, y, w
    torch.cuda.empty_cache()
    return out


def best_peer(peers):
    timed = [(us, name) for name, (us, _) in peers.items() if us]
    return min(timed) if timed else (None, "none")


def main():
    binary = sys.argv[1]
    args = [a for a in sys.argv[2:] if not a.startswith("--")]
    out_dir = args[0] if args else os.environ.get("OUT", ".")
    compile_peers = "--quick" not in sys.argv
    props = torch.cuda.get_device_properties(0)
    rows, lines = [], []
    head = (f"# einfuse GPU benchmark\n\n{time.strftime('%Y-%m-%d')}, {props.name}, torch {torch.__version__}, "
            f"fp32, medians of CUDA events\n")
    lines += [head, "| case | einfuse | GB/s | % of copy | best peer | peer time | einfuse speed-up | check |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for d, b in BMM_CASES:
        nbytes = 3 * b * d * d * 4
        us, check = einfuse_us(binary, "bij,bjk->bik", f"b={b},i={d},j={d},k={d}", check=b * d * d <= 4_194_304)
        peers, copy_us = bmm_peers(d, b, compile_peers)
        peer_us, peer = best_peer(peers)
        copy_gbs = nbytes / copy_us / 1e3
        gbs = nbytes / us / 1e3 if us else None
        rows.append({"case": f"bij,bjk->bik D={d} B={b}", "einfuse_us": us, "check": check, "copy_us": copy_us,
                     "copy_GBps": copy_gbs, "peers": {k: v[0] for k, v in peers.items()},
                     "peer_notes": {k: v[1] for k, v in peers.items() if v[1]}})
        lines.append(f"| D={d} B={b:,} | {us:.1f} us | {gbs:.0f} | {100 * gbs / copy_gbs:.0f}% | {peer} | "
                     f"{peer_us:.1f} us | {peer_us / us:.2f}x | {check} |" if us else f"| D={d} B={b:,} | {check} |")
        print(lines[-1], flush=True)
    for n in GAUSS_CASES:
        repeat = 3 if n >= 1_000_000 else 10
        us, check = einfuse_us(binary, GAUSS, f"i={n},j={n},d=3", repeat=repeat, check=n <= 20_000)
        peers = gauss_peers(n, compile_peers)
        peer_us, peer = best_peer(peers)
        pairs = n * n / us / 1e3 if us else None  # Gpairs/s
        rows.append({"case": f"gauss N=M={n}", "einfuse_us": us, "check": check, "peers": {k: v[0] for k, v in peers.items()},
                     "peer_notes": {k: v[1] for k, v in peers.items() if v[1]}})
        speedup = f"{peer_us / us:.2f}x" if us and peer_us else "-"
        peer_time = f"{peer_us:.0f} us" if peer_us else "-"
        lines.append(f"| Gaussian sum N=M={n:,} | {us:.0f} us | {pairs:.1f} Gpairs/s | - | {peer} | {peer_time} | "
                     f"{speedup} | {check} |" if us else f"| Gaussian N={n} | {check} |")
        print(lines[-1], flush=True)
    lines.append("\nPeers, every time in us (None: failed or not run):\n")
    for r in rows:
        lines.append(f"- {r['case']}: " + ", ".join(f"{k} {v:.1f}" if v else f"{k} {r['peer_notes'].get(k, '-')}"
                                                    for k, v in r["peers"].items()))
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "gpu_bench.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out_dir, "gpu_bench.json"), "w") as f:
        json.dump({"device": props.name, "rows": rows}, f, indent=1)
    print("\n".join(lines[-len(rows) - 1:]))


if __name__ == "__main__":
    main()
