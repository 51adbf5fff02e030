#!/usr/bin/env bash
# Installs everything einfuse needs to build and test on Debian 12, as root.
# Idempotent: a second run takes about a second. CUDA 13 is expected at /usr/local/cuda.
set -euo pipefail

packages=(
    cmake ninja-build g++ git
    llvm-19-dev libzstd-dev zlib1g-dev libxml2-dev libz3-dev libffi-dev libncurses-dev
    libboost1.81-dev doctest-dev libcli11-dev libfmt-dev nlohmann-json3-dev
    python3-numpy python3-pytest python3-torch python3-dev
    libdlpack-dev pkg-config
    libxxhash-dev libssl-dev
    clang-19 libclang-rt-19-dev
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -x /usr/local/cuda/bin/nvcc ]]; then
    echo "install-deps: warning: no CUDA toolkit at /usr/local/cuda; the CUDA backend will be disabled" >&2
fi
