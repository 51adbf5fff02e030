#!/usr/bin/env python3
"""GEMM lowering on the GPU, einfuse next to cuBLAS (through PyTorch) in one run on one GPU:

1. `relu(A@B + bias)` at 4096^3 in f32, tf32 and bf16 against cuBLAS's A@B alone (the brief's bar:
   within 1.02x in f32, 1.05x in tf32 and bf16).
2. The brief's broadcast cases 4, 5, 6 and 10: time, and the peak device memory einfuse holds
   (`device_peak_bytes`) against inputs + outputs, next to what PyTorch allocates.
3. The crossover sweep behind the cost model: batched products `bij,bjk->bik` over D, and
   `ij,jk->ik` over K at M=N=1024, for every runner einfuse has (--gemm cublaslt, emitted, loops;
   auto is what the cost model picks) and torch (cuBLAS).

einfuse is timed by its CLI (`run --target cuda --repeat N --json`: CUDA events, median).
Usage: bench/gemm_bench.py EINFUSE_BINARY [OUT_DIR] [--quick]   (--quick: no sweep)
Writes OUT_DIR/gemm_bench.md and OUT_DIR/gemm_bench.json.
"""
import json
import os
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_bench import guarded, time_torch  # noqa: E402

REPEAT = 20
RELU_BIAS = "D[i,k] = relu(sum[j](A[i,j] * B[j,k]) + bias[k])"


def einfuse(binary, expr, dims, *flags, repeat=REPEAT):
    """(median us, the JSON report) or (None, the error)."""
    cmd = [binary, "run", expr, "--target", "cuda", "--dims", dims, "--repeat", str(repeat), "--json", *flags]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return None, {"error": f"exit {proc.returncode}: {proc.stderr.strip()[:300]}"}
    report = json.loads(proc.stdout)
    return report["median_us"], report


def ran(report):
    return "; ".join(report.get("ran", [])) or report.get("error", "")


def epilogue_cases(binary, rows):
    n = 4096
    flops = 2 * n ** 3
    for name, dtype, flags in (("f32", torch.float32, []), ("tf32", torch.float32, ["--tf32"]),
                               ("bf16", torch.bfloat16, ["--dtype", "bf16"])):
        torch.backends.cuda.matmul.allow_tf32 = name == "tf32"
        a, b = torch.randn(n, n, device="cuda", dtype=dtype), torch.randn(n, n, device="cuda", dtype=dtype)
        bias = torch.randn(n, device="cuda", dtype=dtype)
        cublas, _ = guarded(lambda: time_torch(lambda: a @ b))
        torch_fused, _ = guarded(lambda: time_torch(lambda: torch.relu(a @ b + bias)))
        us, report = einfuse(binary, RELU_BIAS, f"i={n},j={n},k={n}", *flags)
        rows.append({"case": f"relu(A@B+bias) {n}^3 {name}", "einfuse_us": us, "cublas_matmul_us": cublas,
                     "torch_relu_matmul_bias_us": torch_fused, "ratio_to_cublas": us / cublas if us and cublas else None,
                     "tflops": flops / us / 1e6 if us else None, "ran": ran(report)})
        del a, b, bias
    torch.backends.cuda.matmul.allow_tf32 = False


BROADCAST_CASES = [  # (brief case, einsum, dims, torch operand shapes)
    (4, "ij,bjk->bik", "i=4096,j=4096,b=192,k=1", [(4096, 4096), (192, 4096, 1)]),
    (5, "nhj,hjk->nhk", "n=4096,h=256,j=100,k=100", [(4096, 256, 100), (256, 100, 100)]),
    (6, "bld,lrd->blr", "b=8,l=2048,d=64,r=2048", [(8, 2048, 64), (2048, 2048, 64)]),
    (10, "ijk,ikl->jl", "i=8,j=16384,k=2048,l=1024", [(8, 16384, 2048), (8, 2048, 1024)]),
]


def torch_peak(fn):
    """PyTorch's time and the most memory it allocated beyond what was held before, in bytes."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    us = time_torch(fn, repeat=5)
    return us, torch.cuda.max_memory_allocated() - before


def broadcast_cases(binary, rows):
    for case, expr, dims, shapes in BROADCAST_CASES:
        us, report = einfuse(binary, expr, dims)
        ops = [torch.randn(*s, device="cuda") for s in shapes]
        in_bytes = sum(t.numel() * 4 for t in ops)
        out = torch.einsum(expr, *ops)
        out_bytes = out.numel() * 4
        del out
        # matmul is what users call for case 4 (and what expands x); einsum for the others.
        fn = (lambda: torch.matmul(ops[0], ops[1])) if case == 4 else (lambda: torch.einsum(expr, *ops))
        result, err = guarded(lambda: torch_peak(fn))
        t_us, t_peak = result if result else (None, None)
        rows.append({"case": f"case {case}: {expr}", "dims": dims, "einfuse_us": us, "ran": ran(report),
                     "einfuse_peak_bytes": report.get("device_peak_bytes"), "inputs_outputs_bytes": in_bytes + out_bytes,
                     "torch_us": t_us, "torch_extra_peak_bytes": t_peak, "torch_error": err})
        del ops
        torch.cuda.empty_cache()


def sweep(binary, rows):
    runners = ["auto", "cublaslt", "emitted", "loops"]
    for d in (8, 16, 24, 32, 48, 64, 96, 128, 256):
        b = max(1, (256 << 20) // (12 * d * d))  # about 256 MB moved
        entry = {"sweep": "bij,bjk->bik", "D": d, "B": b, "bytes": 12 * b * d * d}
        for r in runners:
            us, report = einfuse(binary, "bij,bjk->bik", f"b={b},i={d},j={d},k={d}", "--gemm", r)
            entry[r] = us
            entry[r + "_ran"] = ran(report)
        x, y = torch.randn(b, d, d, device="cuda"), torch.randn(b, d, d, device="cuda")
        entry["torch.bmm"], _ = guarded(lambda: time_torch(lambda: torch.bmm(x, y)))
        del x, y
        rows.append(entry)
    m = 1024
    for k in (4, 8, 16, 32, 64, 128, 256, 1024):
        entry = {"sweep": "ij,jk->ik", "M=N": m, "K": k}
        for r in runners:
            us, report = einfuse(binary, "ij,jk->ik", f"i={m},j={k},k={m}", "--gemm", r)
            entry[r] = us
            entry[r + "_ran"] = ran(report)
        x, y = torch.randn(m, k, device="cuda"), torch.randn(k, m, device="cuda")
        entry["torch.matmul"], _ = guarded(lambda: time_torch(lambda: x @ y))
        rows.append(entry)


def main():
    binary = sys.argv[1]
    out_dir = sys.argv[2] if len(sys.argv) > 2 and not sys.argv[2].startswith("--") else "."
    quick = "--quick" in sys.argv
    results = {"device": torch.cuda.get_device_name(), "epilogue": [], "broadcast": [], "sweep": []}
    epilogue_cases(binary, results["epilogue"])
    broadcast_cases(binary, results["broadcast"])
    if not quick:
        sweep(binary, results["sweep"])
    with open(os.path.join(out_dir, "gemm_bench.json"), "w") as f:
        json.dump(results, f, indent=1)
    lines = [f"# GEMM benchmark on {results['device']}", ""]
    for section in ("epilogue", "broadcast", "sweep"):
        lines.append(f"## {section}")
        for row in results[section]:
            lines.append("- " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        lines.append("")
    text = "\n".join(lines)
    with open(os.path.join(out_dir, "gemm_bench.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
