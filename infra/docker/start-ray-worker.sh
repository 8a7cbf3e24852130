#!/usr/bin/env bash
# Container entry for the GPU image outside Kubernetes (KubeRay sets its own command):
# joins the Ray head at $RAY_HEAD_ADDRESS (host:6379) and offers the custom resource
# `renderer_gpu` that the cluster serve config asks the renderer deployment for.
set -euo pipefail
: "${RAY_HEAD_ADDRESS:?set RAY_HEAD_ADDRESS to host:6379 of the Ray head}"
exec ray start --address="$RAY_HEAD_ADDRESS" --block --disable-usage-stats \
  --num-gpus="${RAY_NUM_GPUS:-1}" --resources='{"renderer_gpu": 1}' \
  --metrics-export-port="${RAY_METRICS_EXPORT_PORT:-8080}"
