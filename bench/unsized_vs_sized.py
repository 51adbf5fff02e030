#!/usr/bin/env python3
"""The standalone .cu compiled without --dims against the one compiled with them, for every case
of the brief's performance table that einfuse compiles (issue 17: within 1.5x, or the unsized
plan says why not).

Per case: `einfuse compile EXPR -o sized.cu --dims ... --name s` and the same without --dims
(`--name u`); nvcc builds both into one small driver that fills the inputs on the device with
random values, queries each file's workspace, and times `<name>_launch_with_workspace` with CUDA
events, the two files alternating launch by launch (so that clock drift falls on both), over
input sets rotated so that at least 2 x 60 MB (the H200's L2 and then some) lies between two uses
of one set. It reports medians, the ratio unsized/sized, and the largest relative difference
between the two outputs on the same inputs (0 where both run the same kernel). A case the build
cannot compile (a later row of the table) is listed with the compiler's message.

Usage: bench/unsized_vs_sized.py EINFUSE_BINARY [OUT_DIR] [--arch sm_90] [--repeat N] [--build-only] [--only TEXT]
Writes OUT_DIR/unsized_vs_sized.md and OUT_DIR/unsized_vs_sized.json. Needs nvcc and a GPU.
"""
import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile

GAUSS = "out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])"
RELU = "D[i,k] = relu(sum[j](A[i,j] * B[j,k]) + bias[k])"
BMM = "bij,bjk->bik"


def bmm(d, b):
    return f"b={b},i={d},j={d},k={d}"


CASES = [  # (row of the table, expression, --dims, extra flags)
    ("bmm D=2, B=16,777,216", BMM, bmm(2, 16_777_216), []),
    ("bmm D=3, B=8,388,608", BMM, bmm(3, 8_388_608), []),
    ("bmm D=4, B=4,194,304", BMM, bmm(4, 4_194_304), []),
    ("bmm D=8, B=1,048,576", BMM, bmm(8, 1_048_576), []),
    ("bmm D=16, B=262,144", BMM, bmm(16, 262_144), []),
    ("bmm D=32, B=65,536", BMM, bmm(32, 65_536), []),
    ("bmm D=64, B=16,384", BMM, bmm(64, 16_384), []),
    ("the seed: bmm D=2, B=262,144", BMM, bmm(2, 262_144), []),
    ("Gaussian sum N=M=20k", GAUSS, "i=20000,j=20000,d=3", []),
    ("Gaussian sum N=M=100k", GAUSS, "i=100000,j=100000,d=3", []),
    ("Gaussian sum N=M=1M", GAUSS, "i=1000000,j=1000000,d=3", []),
    ("relu(A@B + bias) 4096^3 f32", RELU, "i=4096,j=4096,k=4096", []),
    ("relu(A@B + bias) 4096^3 tf32", RELU, "i=4096,j=4096,k=4096", ["--tf32"]),
    ("relu(A@B + bias) 4096^3 bf16", RELU, "i=4096,j=4096,k=4096", ["--dtype", "bf16"]),
    # Later rows: listed with the reason where this build cannot compile them yet.
    ("depthwise 3x3 conv N=32 C=256 56x56", "out[n,c,h,w] = sum[r,s](x[n,c,h+r,w+s] * k[c,r,s])",
     "n=32,c=256,h=54,w=54,r=3,s=3", []),
    ("max pool 3x3/2", "out[n,c,h,w] = max[r,s](x[n,c,2*h+r,2*w+s])", "n=32,c=256,h=27,w=27,r=3,s=3", []),
    ("logsumexp of the Gaussian-type kernel, 100k", "out[i] = logsumexp[j](-sum[d]((x[i,d] - y[j,d])^2))",
     "i=100000,j=100000,d=3", []),
]
L2_BYTES = 60 << 20
C_TYPES = {"float": ("float", "einfuse_fill_f32"), "double": ("double", "einfuse_fill_f64"),
           "__half": ("__half", "einfuse_fill_f16"), "__nv_bfloat16": ("__nv_bfloat16", "einfuse_fill_bf16")}

DRIVER = r"""
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <algorithm>
#include <vector>
#include "sized.cu"
#include "unsized.cu"

__device__ float einfuse_random(size_t i, unsigned seed) {
    unsigned long long x = (i + 1) * 0x9E3779B97F4A7C15ULL ^ ((unsigned long long)seed << 32);
    x ^= x >> 31; x *= 0xBF58476D1CE4E5B9ULL; x ^= x >> 27; x *= 0x94D049BB133111EBULL; x ^= x >> 31;
    return (float)(x >> 40) / (float)(1 << 24) - 0.5f;
}
__global__ void einfuse_fill_f32(float *p, size_t n, unsigned s) { for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) p[i] = einfuse_random(i, s); }
__global__ void einfuse_fill_f64(double *p, size_t n, unsigned s) { for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) p[i] = einfuse_random(i, s); }
__global__ void einfuse_fill_f16(__half *p, size_t n, unsigned s) { for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) p[i] = __float2half(einfuse_random(i, s)); }
__global__ void einfuse_fill_bf16(__nv_bfloat16 *p, size_t n, unsigned s) { for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) p[i] = __float2bfloat16(einfuse_random(i, s)); }

#define CHECK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { printf("error: %s: %s\n", #x, cudaGetErrorString(e)); exit(2); } } while (0)

static double to_double(const void *p, size_t i, int bytes) {
    if (bytes == 8) return ((const double *)p)[i];
    if (bytes == 4) return ((const float *)p)[i];
    unsigned short h = ((const unsigned short *)p)[i];
    return @BF16@ ? (double)__bfloat162float(*(const __nv_bfloat16 *)&h) : (double)__half2float(*(const __half *)&h);
}

int main() {
    const int num_in = @NUM_IN@, sets = @SETS@, repeat = @REPEAT@;
    const int64_t sizes[] = {@SIZES@};
    @INPUT_DECLS@
    std::vector<einfuse_tensor> inputs((size_t)sets * num_in);
    for (int s = 0; s < sets; ++s) {
        @FILL_INPUTS@
    }
    void *out_s, *out_u;
    CHECK(cudaMalloc(&out_s, @OUT_BYTES@)); CHECK(cudaMalloc(&out_u, @OUT_BYTES@));
    einfuse_tensor o_s = {out_s, @OUT_RANK@, out_shape, out_strides}, o_u = {out_u, @OUT_RANK@, out_shape, out_strides};
    size_t ws_s = 0, ws_u = 0;
    if (s_workspace_bytes(sizes, @NUM_SIZES@, &ws_s) || u_workspace_bytes(sizes, @NUM_SIZES@, &ws_u)) { printf("error: workspace query\n"); return 3; }
    void *w_s = NULL, *w_u = NULL;
    if (ws_s) CHECK(cudaMalloc(&w_s, ws_s));
    if (ws_u) CHECK(cudaMalloc(&w_u, ws_u));
    cudaStream_t stream; CHECK(cudaStreamCreate(&stream));
    cudaEvent_t a, b; CHECK(cudaEventCreate(&a)); CHECK(cudaEventCreate(&b));
    auto run = [&](int which, int set) {
        int rc = which == 0 ? s_launch_with_workspace(&inputs[(size_t)set * num_in], num_in, &o_s, 1, sizes, @NUM_SIZES@, w_s, ws_s, stream)
                            : u_launch_with_workspace(&inputs[(size_t)set * num_in], num_in, &o_u, 1, sizes, @NUM_SIZES@, w_u, ws_u, stream);
        if (rc) { printf("error: %s launch: %s\n", which ? "unsized" : "sized", which ? u_error_string(rc) : s_error_string(rc)); exit(4); }
    };
    // Both on the same inputs first: the outputs are compared.
    run(0, 0); run(1, 0); CHECK(cudaStreamSynchronize(stream));
    {
        std::vector<char> hs(@OUT_BYTES@), hu(@OUT_BYTES@);
        CHECK(cudaMemcpy(hs.data(), out_s, @OUT_BYTES@, cudaMemcpyDeviceToHost));
        CHECK(cudaMemcpy(hu.data(), out_u, @OUT_BYTES@, cudaMemcpyDeviceToHost));
        double worst = 0;
        for (size_t i = 0; i < @OUT_BYTES@ / @OUT_ELEM@; ++i) {
            double x = to_double(hs.data(), i, @OUT_ELEM@), y = to_double(hu.data(), i, @OUT_ELEM@);
            worst = std::max(worst, fabs(x - y) / std::max(fabs(x), 1.0));
        }
        printf("max_rel_diff %.3g\n", worst);
    }
    std::vector<float> t[2];
    int set = 0;
    for (int r = 0; r < repeat + 2; ++r)
        for (int which = 0; which < 2; ++which) {
            set = (set + 1) % sets;
            CHECK(cudaEventRecord(a, stream));
            run(which, set);
            CHECK(cudaEventRecord(b, stream));
            CHECK(cudaEventSynchronize(b));
            float ms = 0; CHECK(cudaEventElapsedTime(&ms, a, b));
            if (r >= 2) t[which].push_back(ms * 1000.0f); // two warm-up rounds
        }
    for (int which = 0; which < 2; ++which) {
        std::sort(t[which].begin(), t[which].end());
        size_t n = t[which].size();
        printf("%s_us %.2f\n", which ? "unsized" : "sized", n % 2 ? t[which][n / 2] : 0.5 * (t[which][n / 2 - 1] + t[which][n / 2]));
    }
    return 0;
}
"""


def entry_signature(cu):
    """The entry point's inputs, outputs and sizes order, from the comment above it."""
    block = cu[cu.index("// The expression as one call."):]
    def tensors(line):
        out = []
        for m in re.finditer(r"(\w+)\[([^\]]*)\] \w+ \(([^)]*)\)", line):
            out.append((m.group(1), [v.strip() for v in m.group(2).split(",") if v.strip()], m.group(3)))
        return out
    ins = tensors(re.search(r"//   inputs:  (.*)", block).group(1))
    outs = tensors(re.search(r"//   outputs: (.*)", block).group(1))
    sizes = [v.strip() for v in re.search(r"//   sizes:   ([^(]*)\(", block).group(1).split(",") if v.strip()]
    return ins, outs, sizes


def dense(idx, size, prefix):
    """A dense row-major tensor over the index list: its C declarations and element count."""
    shape = [size[v] for v in idx]
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    count = 1
    for s in shape:
        count *= s
    lst = lambda v: ", ".join(f"{x}LL" for x in v) or "0"
    return (f"    static const int64_t {prefix}_shape[] = {{{lst(shape)}}}, {prefix}_strides[] = {{{lst(strides)}}};\n",
            count, len(shape))


def driver(cu, dims, repeat):
    ins, outs, order = entry_signature(cu)
    if len(outs) != 1:
        raise RuntimeError("one output expected")
    size = dict((k, int(v)) for k, v in (p.split("=") for p in dims.split(",")))
    elem = {"float": 4, "double": 8, "__half": 2, "__nv_bfloat16": 2}
    decls, fills, set_bytes = "", "", 0
    for n, (name, idx, ctype) in enumerate(ins):
        decl, count, rank = dense(idx, size, f"in{n}")
        set_bytes += count * elem[ctype]
        decls += decl
        t, fill = C_TYPES[ctype]
        fills += (f"        {{ {t} *p; CHECK(cudaMalloc(&p, {count * elem[ctype]}ULL)); "
                  f"{fill}<<<4096, 256>>>(p, {count}ULL, 1000u * s + {n}u); "
                  f"inputs[(size_t)s * num_in + {n}] = einfuse_tensor{{p, {rank}, in{n}_shape, in{n}_strides}}; }}\n")
    name, idx, ctype = outs[0]
    decl, count, rank = dense(idx, size, "out")
    decls += decl
    sets = min(64, max(1, -(-2 * L2_BYTES // max(set_bytes, 1))))  # rotated: >= 2 x L2 between two uses of a set
    text = DRIVER
    for k, v in {"NUM_IN": str(len(ins)), "SETS": str(sets), "REPEAT": str(repeat),
                 "SIZES": ", ".join(str(size[v]) for v in order), "NUM_SIZES": str(len(order)),
                 "INPUT_DECLS": decls, "FILL_INPUTS": fills, "OUT_BYTES": f"{count * elem[ctype]}ULL",
                 "OUT_ELEM": str(elem[ctype]), "OUT_RANK": str(rank),
                 "BF16": "1" if ctype == "__nv_bfloat16" else "0"}.items():
        text = text.replace("@" + k + "@", v)
    return text, sets, set_bytes + count * elem[ctype]


def compile_case(binary, case, work, arch, repeat):
    row, expr, dims, extra = case
    base = os.path.join(work, re.sub(r"[^A-Za-z0-9]+", "_", row).strip("_"))
    os.makedirs(base, exist_ok=True)
    result = {"case": row, "expression": expr, "dims": dims, "flags": extra}
    for name, sized in (("s", True), ("u", False)):
        cmd = [binary, "compile", expr, "--target", "cuda", "--arch", arch, "--name", name,
               "-o", os.path.join(base, "sized.cu" if sized else "unsized.cu")] + extra
        if sized:
            cmd += ["--dims", dims]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            result["skipped"] = f"einfuse compile exit {proc.returncode}: {proc.stderr.strip().splitlines()[0][:160]}"
            return base, result
    plan = subprocess.run([binary, "compile", expr, "--target", "cuda", "--arch", arch, "--emit", "plan"] + extra,
                          capture_output=True, text=True).stdout
    result["specialised"] = [l.strip() for l in plan.splitlines() if l.strip().startswith("specialised:")]
    if "i=1000000" in dims:  # ~0.3 s a launch
        repeat = min(repeat, 5)
    with open(os.path.join(base, "sized.cu")) as f:
        text, sets, bytes_moved = driver(f.read(), dims, repeat)
    result["input_sets"], result["bytes"] = sets, bytes_moved
    result["file_lines"] = {k: sum(1 for _ in open(os.path.join(base, k + ".cu"))) for k in ("sized", "unsized")}
    with open(os.path.join(base, "driver.cu"), "w") as f:
        f.write(text)
    nvcc = "/usr/local/cuda/bin/nvcc" if os.path.exists("/usr/local/cuda/bin/nvcc") else "nvcc"
    build = subprocess.run([nvcc, f"-arch={arch}", "-O3", "-std=c++17", "-w", "-I", base, "-o",
                            os.path.join(base, "driver"), os.path.join(base, "driver.cu")], capture_output=True, text=True)
    if build.returncode != 0:
        result["skipped"] = "nvcc failed: " + (build.stderr.strip()[-400:])
    return base, result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("einfuse")
    ap.add_argument("out_dir", nargs="?", default=".")
    ap.add_argument("--arch", default="sm_90")
    ap.add_argument("--repeat", type=int, default=int(os.environ.get("EINFUSE_BENCH_REPEAT", "20")))
    ap.add_argument("--build-only", action="store_true", help="compile and build the drivers, run nothing")
    ap.add_argument("--only", default="", help="the rows whose name contains this text")
    args = ap.parse_args()
    cases = [c for c in CASES if args.only in c[0]]
    os.makedirs(args.out_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="einfuse_unsized_")
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 4) as pool:
        built = list(pool.map(lambda c: compile_case(args.einfuse, c, work, args.arch, args.repeat), cases))
    results = []
    for base, r in built:  # the drivers run one at a time
        if "skipped" not in r and not args.build_only:
            proc = subprocess.run([os.path.join(base, "driver")], capture_output=True, text=True)
            out = dict(l.split(" ", 1) for l in proc.stdout.splitlines() if " " in l)
            if proc.returncode != 0 or "unsized_us" not in out:
                r["skipped"] = f"driver exit {proc.returncode}: {proc.stdout.strip()[-200:]}"
            else:
                r["sized_us"], r["unsized_us"] = float(out["sized_us"]), float(out["unsized_us"])
                r["ratio"] = r["unsized_us"] / r["sized_us"]
                r["max_rel_diff"] = float(out["max_rel_diff"])
                r["within_1_5x"] = r["ratio"] <= 1.5
        results.append(r)
        print(json.dumps(r), flush=True)
    lines = ["# The .cu without --dims against the .cu with them", "",
             f"einfuse: `{args.einfuse}`, --arch {args.arch}, {args.repeat} timed launches each, alternating; "
             "CUDA events, medians; input sets rotated past 2 x 60 MB.", "",
             "| case | sized us | unsized us | unsized/sized | max rel diff | lines sized/unsized | note |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        if "skipped" in r or "ratio" not in r:
            lines.append(f"| {r['case']} | - | - | - | - | - | {r.get('skipped', 'built, not run')} |")
            continue
        flag = "" if r["within_1_5x"] else "OVER 1.5x; " + "; ".join(r["specialised"])
        lines.append(f"| {r['case']} | {r['sized_us']:.1f} | {r['unsized_us']:.1f} | {r['ratio']:.2f} | "
                     f"{r['max_rel_diff']:.2g} | {r['file_lines']['sized']}/{r['file_lines']['unsized']} | {flag} |")
    with open(os.path.join(args.out_dir, "unsized_vs_sized.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out_dir, "unsized_vs_sized.json"), "w") as f:
        json.dump(results, f, indent=1)
    print("\n".join(lines))
    over = [r["case"] for r in results if r.get("within_1_5x") is False]
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
