#!/usr/bin/env bash
set -u
bash bench/gpu_model_parts.sh take .gpu-xb
ls -la /tmp/pa-parts /tmp/pa-build/bin/pa | tail -4
echo "B done $(date -u +%T)"
