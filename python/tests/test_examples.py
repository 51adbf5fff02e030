"""examples/python run as a newcomer runs them (small sizes)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(script, *args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "python")] + [p for p in [env.get("PYTHONPATH")] if p])
    env.pop("OUT", None)
    return subprocess.run([sys.executable, str(ROOT / "examples" / "python" / script), *args], env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.host
def test_quickstart():
    p = run("quickstart.py")
    assert p.returncode == 0, p.stderr
    assert "unrolled" in p.stdout and "einfuse.Error (expression)" in p.stdout


def test_batched_small_matmul():
    pytest.importorskip("torch")
    p = run("batched_small_matmul.py", "--batch", "1000", "--repeat", "2")
    assert p.returncode == 0, p.stderr
    assert "einfuse.einsum" in p.stdout and "torch.bmm" in p.stdout


def _cuda():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


if not _cuda():  # then the benchmark runs on the host
    test_batched_small_matmul = pytest.mark.host(test_batched_small_matmul)
