#!/usr/bin/env python3
"""Runs python/tests without pytest, for a Python that lacks it (the GPU machine's environment may):

    python3 python/tests/minipytest.py [-k SUBSTRING]

A stand-in `pytest` module with what these tests use (mark.parametrize/skipif/host, param,
importorskip, skip, raises), the conftest's host-backend rule, and pytest's closing line
("N passed, N failed, N skipped"). Exit status 1 when a test failed."""
import importlib
import itertools
import os
import re
import sys
import traceback
import types

HERE = os.path.dirname(os.path.abspath(__file__))


class Skipped(Exception):
    pass


class _Mark:
    def __init__(self, name, args=(), kwargs=None):
        self.name, self.args, self.kwargs = name, args, kwargs or {}

    def __call__(self, fn):  # a mark made once and applied as a decorator
        return _mark(fn, self)


def _mark(fn, mark):
    fn.__dict__.setdefault("minimarks", []).insert(0, mark)
    return fn


class _MarkFactory:
    def __getattr__(self, name):
        return _MarkDecorator(name)


class _MarkDecorator:
    def __init__(self, name):
        self.name = name

    def __call__(self, *args, **kwargs):
        if len(args) == 1 and callable(args[0]) and not kwargs:
            return _mark(args[0], _Mark(self.name))  # @pytest.mark.host
        return _Mark(self.name, args, kwargs)  # @pytest.mark.skipif(...), kept as a mark too


class _Param:
    def __init__(self, *values, marks=()):
        self.values = values
        self.marks = list(marks) if isinstance(marks, (list, tuple)) else [marks]


class _Raises:
    def __init__(self, exc, match=None):
        self.exc, self.match, self.value = exc, match, None

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            raise AssertionError("DID NOT RAISE %s" % self.exc)
        if not issubclass(kind, self.exc):
            return False
        if self.match and not re.search(self.match, str(value)):
            raise AssertionError("%r does not match %r" % (str(value), self.match))
        self.value = value
        return True


def _skip(reason=""):
    raise Skipped(reason)


def _importorskip(name):
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise Skipped("could not import %r: %s" % (name, e))


def stub():
    m = types.ModuleType("pytest")
    m.mark = _MarkFactory()
    m.param = _Param
    m.raises = _Raises
    m.skip = _skip
    m.importorskip = _importorskip
    return m


def _mark_marks(mark):
    if isinstance(mark, _MarkDecorator):
        return [_Mark(mark.name)]
    return [mark]


def cases(fn):
    """(id, kwargs, marks) for each parametrisation of fn."""
    marks = getattr(fn, "minimarks", [])
    axes, plain = [], []
    for m in marks:
        if m.name == "parametrize":
            names = [n.strip() for n in m.args[0].split(",")]
            rows = []
            for v in m.args[1]:
                ms = []
                if isinstance(v, _Param):
                    ms = sum((_mark_marks(x) for x in v.marks), [])
                    v = v.values if len(names) > 1 else v.values[0]
                vals = v if len(names) > 1 else (v,)
                rows.append((dict(zip(names, vals)), ms, "-".join(str(x)[:20] for x in vals)))
            axes.append(rows)
        else:
            plain.append(m)
    for combo in itertools.product(*axes) if axes else [()]:
        kwargs, ms, ids = {}, list(plain), []
        for kw, m, i in combo:
            kwargs.update(kw)
            ms += m
            ids.append(i)
        yield "[%s]" % "-".join(ids) if ids else "", kwargs, ms


def main():
    sys.modules["pytest"] = stub()
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(HERE, ".."))
    only = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else None
    import conftest
    no_host = conftest._host_backend_missing()
    passed = failed = skipped = 0
    for name in sorted(f[:-3] for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py")):
        try:
            mod = importlib.import_module(name)
        except Skipped as e:
            print("SKIPPED %s: %s" % (name, e))
            skipped += 1
            continue
        for attr in sorted(vars(mod)):
            fn = getattr(mod, attr)
            if not attr.startswith("test_") or not callable(fn):
                continue
            module_marks = getattr(mod, "pytestmark", [])
            module_marks = sum((_mark_marks(m) for m in (module_marks if isinstance(module_marks, list)
                                                         else [module_marks])), [])
            for cid, kwargs, marks in cases(fn):
                marks = module_marks + marks
                test = "%s::%s%s" % (name, attr, cid)
                if only and only not in test:
                    continue
                why = None
                for m in marks:
                    if m.name == "skipif" and m.args and m.args[0]:
                        why = m.kwargs.get("reason", "skipif")
                    elif m.name == "skip":
                        why = m.kwargs.get("reason", "skip")
                    elif m.name == "host" and no_host:
                        why = "no host backend in this libeinfuse.so"
                try:
                    if why:
                        raise Skipped(why)
                    fn(**kwargs)
                    passed += 1
                except Skipped as e:
                    skipped += 1
                    print("SKIPPED %s: %s" % (test, e))
                except Exception:
                    failed += 1
                    print("FAILED %s\n%s" % (test, traceback.format_exc()))
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
