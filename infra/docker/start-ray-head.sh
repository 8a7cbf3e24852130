#!/usr/bin/env bash
# Container entry for the CPU image: a Ray head on this node, then every Serve application in
# $S2V_SERVE_CONFIG (gRPC 9000, HTTP 8000, dashboard 8265, Prometheus metrics 8080: Serve's and the
# applications' s2v_* series). `serve run` stays in the foreground
# (logs to stdout) and tears the applications down on SIGTERM.
# Token auth: set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (from a secret) in the environment.
set -euo pipefail
CONFIG=${S2V_SERVE_CONFIG:-/app/infra/serve/serve_config.yaml}
ray start --head --port=6379 --dashboard-host=0.0.0.0 --ray-client-server-port=10001 \
  --num-cpus="${RAY_NUM_CPUS:-2}" --num-gpus="${RAY_NUM_GPUS:-0}" --disable-usage-stats \
  --metrics-export-port="${RAY_METRICS_EXPORT_PORT:-8080}"
exec serve run --address=auto "$CONFIG"
