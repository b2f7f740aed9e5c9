#!/usr/bin/env bash
# The benchmark (see BENCHMARKS.md): on a fresh local cloud with Cognito's quotas, Lambda's memory and Step
# Functions' limits on, seeds a pool, runs the ExportWorkflow, an unchanged re-export and the
# ImportWorkflow, and compares each with its floor (its calls at the budgets in force). Prints a table,
# writes target/benchmark/results.json and redraws docs/benchmark.svg.
#
#   deployment/run-benchmark.sh [--users N] [--subs uuid4|uuidv7] [--quota-scale K] [--latency-ms L]
#                               [--users-per-group G]
#   deployment/run-benchmark.sh --simulate [--users N] [--subs ...]   # the virtual-time simulation instead
#   deployment/run-benchmark.sh --capture 1000 [--capture-rate 10]   # the change capture's recovery point
#
# Defaults: 10,000 users, uuid4 subs, quotas × 10 (time runs 10 times faster, evenly), 100 ms per call.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

if [[ "${1:-}" == "--simulate" ]]; then
  shift
  # Release build: a million users in a few minutes (the domain crate only, no AWS SDK).
  cargo build --release --quiet -p scale-simulation
  exec "$TARGET_DIR/release/simulate-scale" "$@"
fi

export LOCAL_CLOUD_PORT=${LOCAL_CLOUD_PORT:-4579}
cargo build --workspace --all-targets --quiet
trap 'deployment/local-cloud.sh stop' EXIT
deployment/local-cloud.sh stop >/dev/null 2>&1 || true
deployment/local-cloud.sh start >/dev/null
"$TARGET_DIR/debug/benchmark" "$@"
