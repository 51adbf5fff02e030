# Makes python/ importable when the tests run from a checkout (ctest sets PYTHONPATH and
# EINFUSE_LIBRARY itself; a plain `python3 -m pytest python/tests` finds build/api/libeinfuse.so).
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
