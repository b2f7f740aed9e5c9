#!/usr/bin/env bash
# README command 2: every test. Unit and property tests, then the integration tests that run the real
# workflows through Step Functions in the local cloud (which this script starts on its own port and stops
# again), then the local cloud's own fidelity tests. (`cargo test` alone runs the unit tests only.)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# Its own port, so a local cloud you are using for the demo is left alone.
export LOCAL_CLOUD_PORT=${LOCAL_CLOUD_PORT:-4578}
FEATURES=(--features integration-tests/local-cloud)

# One build for everything: the Lambda binaries the local cloud runs are the ones the tests were built with.
cargo build --workspace --all-targets "${FEATURES[@]}"

trap 'deployment/local-cloud.sh stop' EXIT
SERVER_LOG="${LOCAL_CLOUD_STATE_DIR:-$ROOT/.local-cloud}/logs/server-$LOCAL_CLOUD_PORT.log"
LOG_START=$(($(stat -c %s "$SERVER_LOG" 2>/dev/null || echo 0) + 1))
ENDPOINT=$(deployment/local-cloud.sh start)

# On a failure, the local cloud's own errors of this run are printed too: a CI log is all there is to read.
server_errors() {
  echo "Errors the local cloud logged during this run ($SERVER_LOG):" >&2
  tail -c "+$LOG_START" "$SERVER_LOG" | grep -B2 -A25 '^Traceback' | tail -400 >&2 || echo "(none)" >&2
}
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace "${FEATURES[@]}" --no-fail-fast || { server_errors; exit 1; }
else
  cargo test --workspace "${FEATURES[@]}" --no-fail-fast || { server_errors; exit 1; }
fi

# The local cloud's fidelity tests change server-wide switches briefly, so they run after the Rust suite, on a
# fresh server: the Rust suite leaves hundreds of stacks, queues and mappings whose pollers would otherwise
# compete with the fidelity tests' own short deadlines (three CI flakes came from exactly that).
deployment/local-cloud.sh stop
LOG_START=$(($(stat -c %s "$SERVER_LOG" 2>/dev/null || echo 0) + 1))
ENDPOINT=$(deployment/local-cloud.sh start)
echo "Local cloud fidelity tests…"
(cd deployment && LOCAL_CLOUD_ENDPOINT="$ENDPOINT" "${LOCAL_CLOUD_STATE_DIR:-$ROOT/.local-cloud}/venv/bin/python" \
  -m unittest discover -s local_cloud/tests -t .) || { server_errors; exit 1; }
