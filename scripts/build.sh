#!/usr/bin/env bash
# Installs the dependencies (Debian 12), builds einfuse into build/ (Release, Ninja) and makes the
# Python package importable by /usr/bin/python3 (a .pth file naming python/; it finds
# build/api/libeinfuse.so, or EINFUSE_LIBRARY: docs/python.md).
#   scripts/build.sh [extra cmake -D options...]
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
$SUDO bash scripts/install-deps.sh

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build --parallel "$(nproc)"
site=$(/usr/bin/python3 -c 'import site; print(site.getsitepackages()[0])')
$SUDO mkdir -p "$site" && echo "$PWD/python" | $SUDO tee "$site/einfuse.pth" >/dev/null
