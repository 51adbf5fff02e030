#!/usr/bin/python3
"""numpy's and opt_einsum's einsum cases through einfuse's C ABI, against numpy.einsum.

    /usr/bin/python3 tests/numpy/einsum_parity.py --lib build/api/libeinfuse.so \\
        --cases tests/data/numpy_einsum_cases.txt [--verbose] [--only SUBSTRING]

The cases (subscripts, shapes, dtypes, layout, expectation) are data: tests/data/
numpy_einsum_cases.txt says the format. Each case's operands are fresh random numpy arrays (seeded by the case's first four fields:
uniform in [0, 1) for floats, as opt_einsum's np.random.rand, so that no result cancels and its
relative error is well defined; -4..4 for integers), handed to einfuse_einsum as DLTensors as a
framework would (ctypes, tests/numpy/einfuse_ctypes.py).

What passes:
- ok: einfuse returns 0 and the result's error is within numpy's own. Both are measured against
  the exact result (numpy on longdouble copies), per element relative to the sum of the terms'
  magnitudes (numpy on |operands|: what rounding errors scale with, Higham 4.2), the largest over
  the output: einfuse's E must be at most max(8 N, 2 eps) where N is numpy's (np.einsum as numpy
  runs it by default) and eps the result type's machine epsilon. Integers must equal numpy's.
- reject: numpy raises, and einfuse returns an error status with a message (not about the
  output this script passed).
- limit: einfuse refuses with a message (a documented limit; numpy is not asked).
- runs: einfuse computes it (numpy cannot: more than 32 operands); 'i,i,...,i->i' against the
  product.
- xfail:REASON: run and reported; a failure is expected (a pass is reported as such).
Exit status: 0 when every case not marked xfail passes, 1 otherwise, 77 (skipped) without numpy.
"""
import argparse
import os
import sys
import time
import zlib

try:
    import numpy as np
except ImportError:  # ctest: SKIP_RETURN_CODE 77
    print("skipped: this python has no numpy")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from einfuse_ctypes import Library  # noqa: E402

DTYPES = {"f16": np.float16, "f32": np.float32, "f64": np.float64, "i32": np.int32, "i64": np.int64,
          "bool": np.bool_, "i8": np.int8, "i16": np.int16, "u8": np.uint8, "u16": np.uint16, "u32": np.uint32,
          "u64": np.uint64, "c64": np.complex64, "c128": np.complex128}
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def expand(spec, shapes):
    """The '@' forms: '@chain N' with sizes cycling through `shapes`, '@same L COUNT OUT'."""
    words = spec.split()
    if words[0] == "@chain":
        n = int(words[1])
        sizes = [int(s) for s in shapes.split(",")]
        dims = [sizes[i % len(sizes)] for i in range(n)]
        return (",".join(LETTERS[i:i + 2] for i in range(n - 1)),
                [(dims[i], dims[i + 1]) for i in range(n - 1)])
    if words[0] == "@same":
        label, count, out = words[1], int(words[2]), words[3]
        return ",".join([label] * count) + out, [(int(shapes),)] * count
    ops = spec.split("->")[0].split(",")
    parts = shapes.split(",")
    return spec, [() if p == "-" else tuple(int(d) for d in p.split("x")) for p in parts] if shapes else [()] * len(ops)


def make(shape, dtype, layout, rng):
    """An operand of `shape` in `layout`, filled with fresh values."""
    if dtype == np.bool_:
        def fill(s):
            return rng.integers(0, 2, s).astype(dtype)
    elif np.issubdtype(dtype, np.integer):
        low = 0 if np.issubdtype(dtype, np.unsignedinteger) else -4
        def fill(s):
            return rng.integers(low, 5, s).astype(dtype)
    elif np.issubdtype(dtype, np.complexfloating):
        def fill(s):
            return np.asarray(rng.random(s) + 1j * rng.random(s)).astype(dtype)  # 0-d: an array, not a scalar
    else:  # numpy's tests use positive values (arange), opt_einsum's np.random.rand: [0, 1)
        def fill(s):
            return rng.random(s).astype(dtype)
    if layout == "rev" and shape:
        a = fill(shape)
        return a[tuple(slice(None, None, -1) for _ in shape)]
    if layout == "step" and shape:
        a = fill(shape[:-1] + (2 * shape[-1],))
        return a[..., ::2]
    if layout == "F" and shape:
        return np.asfortranarray(fill(shape))
    return fill(shape)


def deviation(got, exact, magnitude):
    """max |got - exact| / magnitude over the elements (0 for an empty result)."""
    if exact.size == 0:
        return 0.0
    err = np.abs(got.astype(exact.dtype) - exact) / np.maximum(magnitude, np.finfo(np.float64).tiny)
    return float(np.max(err))


def run_case(lib, fields, rng):
    """(passed, detail) for one case."""
    spec, shapes, dtypes, layout, expect = fields[:5]
    spec, shape_list = expand(spec, shapes)
    names = dtypes.split(",")
    if len(names) == 1:
        names = names * len(shape_list)
    ops = [make(s, DTYPES[t], "c" if layout in ("outrev", "outstep", "opt") or layout.startswith("out=") else layout, rng)
           for s, t in zip(shape_list, names)]

    if expect == "limit":
        status, message = lib.einsum(spec, ops, np.zeros((), np.float64))
        return status != 0 and message != "", f"status {status}: {message.strip()[:120]}"

    if expect == "runs":  # numpy takes at most 32 operands (64 in numpy 2); einfuse must compute
        ops = [(0.99 + o / 50).astype(o.dtype) for o in ops]  # near 1: the product of 1024 stays normal
        want_shape = np.broadcast_shapes(*[o.shape for o in ops]) if spec.endswith("->i") else ()
        out = np.full(want_shape, 7, dtype=ops[0].dtype)
        status, message = lib.einsum(spec, ops, out)
        want = np.prod(np.stack([o.astype(np.longdouble) for o in ops]), axis=0) if spec.endswith("->i") else None
        close = want is None or np.allclose(out, want.astype(out.dtype), rtol=1e-12, atol=0)
        return status == 0 and close, f"status {status} {message.strip()[:120]}"

    try:
        want = np.asarray(np.einsum(spec, *ops, optimize=layout == "opt"))
    except Exception as e:  # numpy refuses
        if expect != "reject":
            return False, f"numpy refuses ({e}) but the case expects {expect}"
        status, message = lib.einsum(spec, ops, np.zeros((), np.float64))
        ok = status != 0 and message.strip() != "" and "output 0 is" not in message
        return ok, f"numpy: {e}; einfuse: status {status}: {message.strip().splitlines()[0][:120] if message else ''}"
    if expect == "reject":
        return False, "numpy accepts a case marked reject"
    # numpy 1.x promotes a 0-d operand by its value (f32 array with an f64 scalar: f32); numpy 2
    # and einfuse by its type (NEP 50): f64.
    promoted = np.result_type(*[o.dtype for o in ops])
    if want.dtype != promoted:
        want = np.asarray(np.einsum(spec, *ops, dtype=promoted, optimize=layout == "opt"))

    # The output, filled with a value einfuse must overwrite.
    if layout.startswith("out="):
        k = int(layout[4:])
        out = ops[k]
        if out.shape != want.shape or out.dtype != want.dtype:
            return False, "out=K needs operand K to have the result's shape and type"
        ops_for_numpy = [o.copy() for o in ops]
        want = np.asarray(np.einsum(spec, *ops_for_numpy))
    else:
        if layout == "outstep" and want.ndim:  # every other element of a buffer twice as wide
            base = np.full(want.shape[:-1] + (2 * want.shape[-1],), 7, dtype=want.dtype)
            out = base[..., ::2]
        else:
            base = np.full(want.shape, 7, dtype=want.dtype)
            out = base[tuple(slice(None, None, -1) for _ in want.shape)] if layout == "outrev" and want.ndim else base
        ops_for_numpy = ops
    start = time.perf_counter()
    status, message = lib.einsum(spec, ops, out)
    seconds = time.perf_counter() - start
    if status != 0:
        return False, f"einfuse refuses (status {status}): {message.strip()[:300]}"
    got = np.asarray(out)

    if layout == "outstep" and np.any(base[..., 1::2] != 7):
        return False, "the output's gaps were written"
    if np.issubdtype(want.dtype, np.integer) or want.dtype == np.bool_:
        same = np.array_equal(got, want)
        return same, f"integers {'equal' if same else 'differ'} ({seconds * 1e3:.1f} ms)"
    wide_type = np.clongdouble if np.issubdtype(want.dtype, np.complexfloating) else np.longdouble
    wide = [o.astype(wide_type) for o in ops_for_numpy]
    exact = np.asarray(np.einsum(spec, *wide, optimize="greedy"))
    magnitude = np.asarray(np.einsum(spec, *[np.abs(w) for w in wide], optimize="greedy"))
    e = deviation(got, exact, magnitude)
    n = deviation(want, exact, magnitude)
    eps = float(np.finfo(want.dtype).eps)
    bound = max(8 * n, 2 * eps)
    return e <= bound, f"einfuse {e / eps:.3g} eps, numpy {n / eps:.3g} eps, bound {bound / eps:.3g} ({seconds * 1e3:.1f} ms)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lib", required=True)
    parser.add_argument("--cases", required=True)
    parser.add_argument("--only", default="")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    lib = Library(args.lib)
    counts = {"pass": 0, "fail": 0, "xfail": 0, "xpass": 0}
    start = time.perf_counter()
    for number, line in enumerate(open(args.cases).read().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if args.only and args.only not in line:
            continue
        expect = fields[4]
        xfail = expect.startswith("xfail:")
        if xfail:
            fields = fields[:4] + ["ok"] + fields[5:]
        # Each case draws from its own seed, the CRC of what it computes (not of its expectation):
        # editing one line changes no other's values, and marking a case changes not its own.
        rng = np.random.default_rng(zlib.crc32("\t".join(fields[:4]).encode()))
        try:
            passed, detail = run_case(lib, fields, rng)
        except Exception as e:  # the script's own trouble with a case is a failure too
            passed, detail = False, f"{type(e).__name__}: {e}"
        label = fields[0] if len(fields[0]) <= 60 else fields[0][:57] + "..."
        where = f"line {number}: {label} [{fields[1][:40]}] {fields[2]} {fields[3]}"
        if xfail:
            counts["xpass" if passed else "xfail"] += 1
            print(f"{'XPASS' if passed else 'xfail'} {where}: {detail} ({expect})")
        else:
            counts["pass" if passed else "fail"] += 1
            if not passed or args.verbose:
                print(f"{'ok' if passed else 'FAIL'} {where}: {detail}")
    total = sum(counts.values())
    print(f"{total} cases in {time.perf_counter() - start:.1f} s: {counts['pass']} pass, {counts['fail']} fail, "
          f"{counts['xfail']} expected failures, {counts['xpass']} expected failures that pass")
    return 1 if counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
