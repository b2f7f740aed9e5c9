#!/usr/bin/env bash
# Export throughput on the local cloud (see BENCHMARKS.md). Usage: deployment/run-benchmark.sh [USERS]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export LOCAL_CLOUD_PORT=${LOCAL_CLOUD_PORT:-4579}
cargo build --workspace --all-targets --quiet
trap 'deployment/local-cloud.sh stop' EXIT
deployment/local-cloud.sh start >/dev/null
"${CARGO_TARGET_DIR:-$ROOT/target}/debug/export-benchmark" "$@"
