#!/usr/bin/python3
"""The host benchmark: einfuse's JIT next to numpy and a plain g++ loop, in one run.

For bij,bjk->bik (fp32, D=2,3,4,8,16, ~256 MB moved per call, far past L2 and the LLC share of
a core) and the Gaussian kernel sum (D=3, N=M=4000), at 1 thread and at all cores, it prints
the median time per call and, for the batched products, GB/s (inputs read + output written)
and the fraction of the copy bandwidth measured in the same run at the same thread count.

  einfuse   build/tools/einfuse run ... --repeat R --threads T --json (median of R timed calls
            after one untimed call: compile time excluded; --check verifies the first call)
  g++       bench/host_baseline.cpp, compiled here with g++ -O3 -march=native -fopenmp
  numpy     np.einsum, np.matmul, broadcast-multiply-sum (numpy runs these on one thread)
  copy      a parallel memcpy of the same number of bytes in the baseline binary

Run with Debian's python (numpy): /usr/bin/python3 bench/host_bench.py [--build build] [--quick]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BYTES = 256_000_000  # per call, read + written
GAUSS_N = 4000


def median_s(f, reps):
    f()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def build_baseline(out_dir):
    exe = os.path.join(out_dir, "host_baseline")
    subprocess.run(["g++", "-O3", "-march=native", "-fopenmp", os.path.join(ROOT, "bench", "host_baseline.cpp"),
                    "-o", exe], check=True)
    return exe


def baseline_us(exe, *args):
    out = subprocess.run([exe, *map(str, args)], check=True, capture_output=True, text=True).stdout
    return float(out.strip())


def einfuse_run(cli, expr, dims, threads, reps):
    """Median us of einfuse's JIT code; fails loudly when the result disagrees with the reference."""
    dims_text = ",".join(f"{k}={v}" for k, v in dims.items())
    cmd = [cli, "run", expr, "--dims", dims_text, "--threads", str(threads), "--repeat", str(reps), "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"einfuse failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    report = json.loads(r.stdout)
    strategy = report["plan"].split("kernel ", 1)[1].split(":", 1)[1].split("\n")[0].split("(")[0].strip()
    return report["median_us"], strategy


def einfuse_check(cli, expr, dims):
    dims_text = ",".join(f"{k}={v}" for k, v in dims.items())
    r = subprocess.run([cli, "run", expr, "--dims", dims_text, "--check"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"einfuse --check failed for {expr} {dims_text}:\n{r.stdout}{r.stderr}")


def gbps(nbytes, us):
    return nbytes / (us * 1e3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--sizes", default="2,3,4,8,16")
    args = ap.parse_args()
    cli = os.path.join(args.build, "tools", "einfuse")
    cores = os.cpu_count()
    thread_counts = [1] if cores == 1 else [1, cores]
    reps, np_reps = (5, 1) if args.quick else (15, 3)
    rng = np.random.default_rng(0)

    with tempfile.TemporaryDirectory() as tmp:
        exe = build_baseline(tmp)
        copy_us = {t: baseline_us(exe, "copy", BYTES, t, reps) for t in thread_counts}
        print(f"# host benchmark, {time.strftime('%Y-%m-%d')}, {cpu_model()}, {cores} cores, numpy {np.__version__}, "
              f"load average {os.getloadavg()[0]:.2f}")
        for t in thread_counts:
            print(f"# copy, {t} thread(s): {copy_us[t]:.0f} us for {BYTES / 1e6:.0f} MB = {gbps(BYTES, copy_us[t]):.1f} GB/s")
        print()
        print("bij,bjk->bik, fp32: GB/s (fraction of copy at the same thread count); numpy is single-threaded")
        print("| D | B | MB | threads | copy GB/s | einfuse | g++ -O3 -fopenmp | np.einsum | np.matmul | np broadcast-sum | einfuse / np.einsum |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for d in map(int, args.sizes.split(",")):
            batch = BYTES // (3 * d * d * 4)
            nbytes = 3 * d * d * 4 * batch
            dims = {"b": batch, "i": d, "j": d, "k": d}
            einfuse_check(cli, "bij,bjk->bik", {"b": 1000 + 7, "i": d, "j": d, "k": d})
            a = rng.standard_normal((batch, d, d), dtype=np.float32)
            b = rng.standard_normal((batch, d, d), dtype=np.float32)
            np_einsum = median_s(lambda: np.einsum("bij,bjk->bik", a, b), np_reps) * 1e6
            np_matmul = median_s(lambda: np.matmul(a, b), np_reps) * 1e6
            np_bsum = median_s(lambda: (a[:, :, :, None] * b[:, None, :, :]).sum(axis=2), np_reps) * 1e6
            del a, b
            for t in thread_counts:
                ef_us, strategy = einfuse_run(cli, "bij,bjk->bik", dims, t, reps)
                gpp_us = baseline_us(exe, "bmm", d, batch, t, reps)
                c = gbps(nbytes, copy_us[t])
                cell = lambda us: f"{gbps(nbytes, us):.1f} ({gbps(nbytes, us) / c:.0%})"
                print(f"| {d} | {batch} | {nbytes / 1e6:.0f} | {t} | {c:.1f} | {cell(ef_us)} {strategy} | {cell(gpp_us)} | "
                      f"{cell(np_einsum)} | {cell(np_matmul)} | {cell(np_bsum)} | {np_einsum / ef_us:.0f}x |")
            sys.stdout.flush()

        print()
        n = GAUSS_N
        print(f"Gaussian kernel sum out[i] = sum[j](exp(-sum[d]((x[i,d]-y[j,d])^2)) * w[j]), D=3, N=M={n}, fp32: ms")
        print("| threads | einfuse ms | g++ -O3 -fopenmp ms | numpy broadcast ms | numpy / einfuse |")
        print("| --- | --- | --- | --- | --- |")
        expr = "out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])"
        einfuse_check(cli, expr, {"i": 1000 + 3, "j": 997, "d": 3})
        x = rng.standard_normal((n, 3), dtype=np.float32)
        y = rng.standard_normal((n, 3), dtype=np.float32)
        w = rng.standard_normal(n, dtype=np.float32)
        np_gauss = median_s(lambda: (np.exp(-((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)) * w[None, :]).sum(1),
                            np_reps) * 1e3
        for t in thread_counts:
            ef_us, _ = einfuse_run(cli, expr, {"i": n, "j": n, "d": 3}, t, reps)
            gpp_us = baseline_us(exe, "gauss", n, n, t, reps)
            print(f"| {t} | {ef_us / 1e3:.2f} | {gpp_us / 1e3:.2f} | {np_gauss:.1f} | {np_gauss / (ef_us / 1e3):.0f}x |")

        print()
        plan, cold, warm = compile_times(cli, os.path.join(tmp, "cache"))
        print(f"Compile time (whole `einfuse run` process on bij,bjk->bik D=3 B=64, median of 7): plan only {plan:.0f} ms, "
              f"run with the cache off {cold:.0f} ms (JIT ~{cold - plan:.0f} ms), run with a warm disk cache "
              f"{warm:.0f} ms (~{warm - plan:.0f} ms)")
        print(f"# load average at the end: {os.getloadavg()[0]:.2f} (another build on the machine skews the 2-thread rows)")


def compile_times(cli, cache_dir):
    """Whole-process wall times of the CLI on a tiny bij,bjk->bik (D=3, B=64), medians of 7: with
    the cache off, with the cache warm, and planning only (--emit plan, no JIT). Differences from
    the last are the JIT's share."""
    args = ["bij,bjk->bik", "--dims", "b=64,i=3,j=3,k=3"]

    def wall(cmd, env):
        times = []
        for _ in range(7):
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            times.append(time.perf_counter() - t)
        return sorted(times)[3] * 1e3

    env = dict(os.environ)
    plan = wall([cli, "compile", *args, "--target", "host", "--emit", "plan"], env)
    env["EINFUSE_CACHE_DIR"] = "off"
    cold = wall([cli, "run", *args], env)
    env["EINFUSE_CACHE_DIR"] = cache_dir
    warm = wall([cli, "run", *args], env)
    return plan, cold, warm


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    main()
