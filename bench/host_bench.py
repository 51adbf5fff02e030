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

Every result names the CPU it ran on (model, family/model, vector ISA, cores, LLVM's name for it
and the vector width einfuse planned): in the table header and, with --json FILE, in each record,
so that docs/performance.md keeps results per CPU.

Before/after comparisons on one machine: --einfuse NAME=PATH,... runs several einfuse binaries on
the same cases, alternating them --rounds times (medians over rounds, so drift falls on all of
them); --override-256 adds each binary with EINFUSE_HOST_VECTOR_BITS=256.

Run with Debian's python (numpy): /usr/bin/python3 bench/host_bench.py [--build build] [--quick]
  [--einfuse before=/tmp/einfuse,after=build/tools/einfuse] [--override-256] [--rounds 3]
  [--no-numpy] [--skip-gauss] [--json results.json]
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


def einfuse_run(cli, expr, dims, threads, reps, env=None):
    """Median us of einfuse's JIT code; fails loudly when the result disagrees with the reference."""
    dims_text = ",".join(f"{k}={v}" for k, v in dims.items())
    cmd = [cli, "run", expr, "--dims", dims_text, "--threads", str(threads), "--repeat", str(reps), "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"einfuse failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    report = json.loads(r.stdout)
    strategy = report["plan"].split("kernel ", 1)[1].split(":", 1)[1].split("\n")[0].split("(")[0].strip()
    return report["median_us"], strategy


def einfuse_check(cli, expr, dims, env=None):
    dims_text = ",".join(f"{k}={v}" for k, v in dims.items())
    r = subprocess.run([cli, "run", expr, "--dims", dims_text, "--check"], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"einfuse --check failed for {expr} {dims_text}:\n{r.stdout}{r.stderr}")


def gbps(nbytes, us):
    return nbytes / (us * 1e3)


def variants(args):
    """(name, cli, env) per einfuse column: each --einfuse binary, and its 256-bit override."""
    pairs = [("einfuse", os.path.join(args.build, "tools", "einfuse"))]
    if args.einfuse:
        pairs = [tuple(item.split("=", 1)) for item in args.einfuse.split(",")]
    out = []
    for name, cli in pairs:
        out.append((name, cli, dict(os.environ)))
        if args.override_256:
            out.append((name + " 256", cli, dict(os.environ, EINFUSE_HOST_VECTOR_BITS="256")))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--sizes", default="2,3,4,8,16")
    ap.add_argument("--threads", default=None, help="thread counts, default 1 and all cores")
    ap.add_argument("--einfuse", default=None, help="NAME=PATH,... einfuse binaries to compare (default: the build's)")
    ap.add_argument("--override-256", action="store_true", help="also run each with EINFUSE_HOST_VECTOR_BITS=256")
    ap.add_argument("--rounds", type=int, default=1, help="alternate every column this many times; medians")
    ap.add_argument("--no-numpy", action="store_true")
    ap.add_argument("--skip-gauss", action="store_true")
    ap.add_argument("--json", default=None, help="write every result, with the CPU, to this file")
    ap.add_argument("--best", action="store_true",
                    help="print the best round's median instead of the median over rounds (a loaded machine)")
    args = ap.parse_args()
    cols = variants(args)
    cli = cols[-1][1]
    cores = os.cpu_count()
    thread_counts = ([1] if cores == 1 else [1, cores]) if not args.threads else list(map(int, args.threads.split(",")))
    reps, np_reps = (5, 1) if args.quick else (15, 3)
    rng = np.random.default_rng(0)
    cpu = cpu_info(cli)
    records = []

    def record(**kv):
        records.append(dict(kv, cpu=cpu, date=time.strftime("%Y-%m-%d %H:%M"), load=os.getloadavg()[0]))

    with tempfile.TemporaryDirectory() as tmp:
        exe = build_baseline(tmp)
        print(f"# host benchmark, {time.strftime('%Y-%m-%d %H:%M')}, numpy {np.__version__}, load average "
              f"{os.getloadavg()[0]:.2f} (uptime: {uptime()})")
        print(f"# CPU: {describe_cpu(cpu)}")
        bmm_header(cols, args)
        for d in map(int, args.sizes.split(",")):
            batch = BYTES // (3 * d * d * 4)
            nbytes = 3 * d * d * 4 * batch
            dims = {"b": batch, "i": d, "j": d, "k": d}
            for _, c, env in cols:
                einfuse_check(c, "bij,bjk->bik", {"b": 1000 + 7, "i": d, "j": d, "k": d}, env)
            np_cells = ""
            if not args.no_numpy:
                a = rng.standard_normal((batch, d, d), dtype=np.float32)
                b = rng.standard_normal((batch, d, d), dtype=np.float32)
                np_einsum = median_s(lambda: np.einsum("bij,bjk->bik", a, b), np_reps) * 1e6
                np_matmul = median_s(lambda: np.matmul(a, b), np_reps) * 1e6
                del a, b
                np_cells = f" {gbps(nbytes, np_einsum):.1f} | {gbps(nbytes, np_matmul):.1f} |"
            for t in thread_counts:
                # Alternate copy, g++ and every einfuse column, `rounds` times: drift falls on all.
                times = {"copy": [], "g++": []}
                strategy = ""
                for _ in range(args.rounds):
                    times["copy"].append(baseline_us(exe, "copy", nbytes, t, reps))
                    times["g++"].append(baseline_us(exe, "bmm", d, batch, t, reps))
                    for name, c, env in cols:
                        us, strategy = einfuse_run(c, "bij,bjk->bik", dims, t, reps, env)
                        times.setdefault(name, []).append(us)
                pick = min if args.best else (lambda v: sorted(v)[len(v) // 2])
                med = {k: pick(v) for k, v in times.items()}
                copy = gbps(nbytes, med["copy"])
                cell = lambda us: f"{gbps(nbytes, us):.1f} ({gbps(nbytes, us) / copy:.0%})"
                row = f"| {d} | {batch} | {t} | {copy:.1f} | {cell(med['g++'])} |"
                for name, _, _ in cols:
                    row += f" {cell(med[name])} |"
                    record(case="bij,bjk->bik", d=d, batch=batch, threads=t, einfuse=name, us=med[name],
                           gbps=gbps(nbytes, med[name]), copy_gbps=copy, gpp_gbps=gbps(nbytes, med["g++"]),
                           rounds=[round(x, 1) for x in times[name]])
                print(row + np_cells + f" {strategy} |")
                sys.stdout.flush()

        if not args.skip_gauss:
            gauss(cols, exe, rng, thread_counts, reps, np_reps, args.rounds, record)
            print()
            plan, cold, warm = compile_times(cli, os.path.join(tmp, "cache"))
            print(f"Compile time (whole `einfuse run` process on bij,bjk->bik D=3 B=64, median of 7): plan only {plan:.0f} ms, "
                  f"run with the cache off {cold:.0f} ms (JIT ~{cold - plan:.0f} ms), run with a warm disk cache "
                  f"{warm:.0f} ms (~{warm - plan:.0f} ms)")
        print(f"# load average at the end: {os.getloadavg()[0]:.2f} (uptime: {uptime()})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)


def bmm_header(cols, args):
    print()
    over = "the best of" if args.best else "medians over"
    print("bij,bjk->bik, fp32: GB/s (fraction of the copy of the same bytes at the same thread count; each cell a "
          f"median of --repeat calls, {over} {args.rounds} alternating round(s)); numpy is single-threaded")
    names = " | ".join(name for name, _, _ in cols)
    np_names = "" if args.no_numpy else " np.einsum | np.matmul |"
    print(f"| D | B | threads | copy GB/s | g++ -O3 -march=native | {names} |{np_names} strategy |")
    print("| --- " * (6 + len(cols) + (0 if args.no_numpy else 2)) + "|")


def gauss(cols, exe, rng, thread_counts, reps, np_reps, rounds, record):
    print()
    n = GAUSS_N
    print(f"Gaussian kernel sum out[i] = sum[j](exp(-sum[d]((x[i,d]-y[j,d])^2)) * w[j]), D=3, N=M={n}, fp32: ms "
          f"(medians over {rounds} alternating round(s))")
    names = " | ".join(f"{name} ms" for name, _, _ in cols)
    main_name = [name for name, _, _ in cols if not name.endswith(" 256")][-1]
    print(f"| threads | {names} | g++ -O3 -fopenmp ms | numpy broadcast ms | numpy / {main_name} |")
    print("| --- " * (4 + len(cols)) + "|")
    expr = "out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])"
    for _, c, env in cols:
        einfuse_check(c, expr, {"i": 1000 + 3, "j": 997, "d": 3}, env)
    x = rng.standard_normal((n, 3), dtype=np.float32)
    y = rng.standard_normal((n, 3), dtype=np.float32)
    w = rng.standard_normal(n, dtype=np.float32)
    np_gauss = median_s(lambda: (np.exp(-((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)) * w[None, :]).sum(1),
                        np_reps) * 1e3
    for t in thread_counts:
        times = {"g++": []}
        for _ in range(rounds):
            times["g++"].append(baseline_us(exe, "gauss", n, n, t, reps))
            for name, c, env in cols:
                times.setdefault(name, []).append(einfuse_run(c, expr, {"i": n, "j": n, "d": 3}, t, reps, env)[0])
        med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
        row = f"| {t} |"
        for name, _, _ in cols:
            row += f" {med[name] / 1e3:.2f} |"
            record(case="gauss", n=n, threads=t, einfuse=name, us=med[name], gpp_us=med["g++"], numpy_ms=np_gauss,
                   rounds=[round(x, 1) for x in times[name]])
        last = med[main_name]
        print(row + f" {med['g++'] / 1e3:.2f} | {np_gauss:.1f} | {np_gauss / (last / 1e3):.0f}x |")


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


# The vector and matrix extensions that decide how kernels run, in the order a reader looks for them.
ISA_FLAGS = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "avx512_fp16",
             "avx_vnni", "amx_tile"]


def cpu_info(cli):
    """The CPU this run measures: /proc/cpuinfo's model, vendor, family/model, the ISA flags above,
    the core count, and LLVM's name for it with the vector width einfuse plans (from the plan)."""
    info = {"model": "unknown CPU", "vendor": "", "family": "", "model_number": "", "flags": [], "cores": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name": info["model"] = value
                elif key == "vendor_id": info["vendor"] = value
                elif key == "cpu family": info["family"] = value
                elif key == "model": info["model_number"] = value
                elif key == "flags":
                    flags = set(value.split())
                    info["flags"] = [f for f in ISA_FLAGS if f in flags]
                    info["hypervisor"] = "hypervisor" in flags
                    break
    except OSError:
        pass
    r = subprocess.run([cli, "compile", "bij,bjk->bik", "--dims", "b=64,i=2,j=2,k=2", "--target", "host", "--emit", "plan"],
                       capture_output=True, text=True)
    for line in r.stdout.splitlines():
        if "host vectors:" in line and "(CPU" in line:
            info["llvm"] = line.split("(CPU", 1)[1].split(")", 1)[0].strip()
    return info


def describe_cpu(cpu):
    return (f"{cpu['model']} ({cpu['vendor']} family {cpu['family']} model {cpu['model_number']}"
            f"{', a virtual machine' if cpu.get('hypervisor') else ''}), {cpu['cores']} cores, "
            f"{' '.join(cpu['flags'])}; LLVM: {cpu.get('llvm', 'unknown')}")


def uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
