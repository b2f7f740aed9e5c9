#!/usr/bin/env bash
# README command 1: the ExportWorkflow end to end on the local cloud, no AWS account needed.
# Builds the Lambdas, starts the local cloud (unless it already runs), seeds a realistic pool of 1,200
# users and 80 groups, deploys the stack, runs the ExportWorkflow through Step Functions, prints a summary
# read back from the backup table, and stops the local cloud it started.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

echo "Building the workspace (the first build takes a few minutes)…"
cargo build --workspace --all-targets --quiet

if deployment/local-cloud.sh status >/dev/null 2>&1; then
  echo "Using the local cloud already running at $(deployment/local-cloud.sh status)"
else
  echo "Starting the local cloud…"
  deployment/local-cloud.sh start >/dev/null
  trap 'deployment/local-cloud.sh stop' EXIT
fi

LOCAL_CLOUD_PORT=${LOCAL_CLOUD_PORT:-4577} "$TARGET_DIR/debug/local-demo"
