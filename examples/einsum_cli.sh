#!/usr/bin/env bash
# The seed case of the brief on the host, its plan, and its standalone CUDA source.
set -euo pipefail
einfuse=${EINFUSE:-build/tools/einfuse}
$einfuse run "bij,bjk->bik" --dims b=262144,i=2,j=2,k=2 --check --repeat 20
$einfuse compile "bij,bjk->bik" --emit plan
$einfuse compile "bij,bjk->bik" --target cuda -o /tmp/bmm.cu && echo "wrote /tmp/bmm.cu"
