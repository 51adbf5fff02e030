#!/usr/bin/python3
"""Checks the differential test's generator against numpy (not part of CI).

    EINFUSE_DIFF_CASES=2000 EINFUSE_DIFF_DUMP=/tmp/cases.tsv build/tests/host_tests -tc='differential*'
    /usr/bin/python3 tests/differential_numpy_check.py /tmp/cases.tsv

Every generated einsum must be one numpy.einsum accepts, with the output shape the generator
expects, and einfuse's promoted dtype must be numpy's (cases with bf16, which numpy lacks, are
checked for the shape only). Exit status 1 if any case disagrees."""
import sys

import numpy as np

NUMPY = {"f16": np.float16, "f32": np.float32, "f64": np.float64, "i32": np.int32, "i64": np.int64,
         "bf16": np.float16}


def shape(text):
    return tuple(int(d) for d in text.split(",")) if text else ()


def main(path):
    bad = 0
    rng = np.random.default_rng(0)
    lines = open(path).read().splitlines()
    for number, line in enumerate(lines):
        spec, shapes, dtypes, out, promoted = line.split("\t")
        shapes = [shape(s) for s in shapes.split(";")]
        dtypes = dtypes.split(",")
        arrays = [rng.uniform(-1, 1, s).astype(NUMPY[t]) for s, t in zip(shapes, dtypes)]
        try:
            result = np.asarray(np.einsum(spec, *arrays, optimize=False))
        except Exception as e:  # numpy rejects it: the generator made an invalid case
            print(f"case {number}: numpy rejects {spec!r} {shapes}: {e}")
            bad += 1
            continue
        if result.shape != shape(out):
            print(f"case {number}: {spec!r} {shapes}: numpy's shape {result.shape}, generator's {shape(out)}")
            bad += 1
        # By type, not value: numpy < 2 promotes 0-d arrays by their values (NEP 50 ended that).
        want = np.result_type(*[np.dtype(NUMPY[t]) for t in dtypes])
        if "bf16" not in dtypes and want != NUMPY[promoted]:
            print(f"case {number}: {spec!r} {dtypes}: numpy's dtype {want}, einfuse's {promoted}")
            bad += 1
    print(f"{len(lines)} cases, {bad} disagree with numpy")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
