#!/usr/bin/env bash
# README command 2: every test. Unit tests, then integration tests that run the real workflows through
# Step Functions in the local cloud, which this script starts on its own port and stops again.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# Its own port, so a local cloud you are using for the demo is left alone.
export LOCAL_CLOUD_PORT=${LOCAL_CLOUD_PORT:-4578}

# One build for everything: the Lambda binaries the local cloud runs are the ones the tests were built with.
cargo build --workspace --all-targets

trap 'deployment/local-cloud.sh stop' EXIT
deployment/local-cloud.sh start

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
