#!/usr/bin/env bash
# The local cloud: moto 5.2.5 plus this project's extensions (real Lambda binaries, fault injection,
# bulk seeding), on 127.0.0.1. No AWS account needed.
#
#   deployment/local-cloud.sh start      start it in the background (no-op if running); prints the endpoint
#   deployment/local-cloud.sh stop       stop it (no-op if stopped)
#   deployment/local-cloud.sh status     print the endpoint if running, exit 1 if not
#   deployment/local-cloud.sh deploy --primary-user-pool-id ID [--prefix P] [--backup-region R]
#                                        build the Lambdas, synthesize the templates and deploy them through
#                                        the local CloudFormation API (main stack + StackSet in both Regions)
#
# Environment: LOCAL_CLOUD_PORT (default 4577), LOCAL_CLOUD_STATE_DIR (default .local-cloud),
#              AWS_REGION (default us-east-1), CARGO_TARGET_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR=${LOCAL_CLOUD_STATE_DIR:-$ROOT/.local-cloud}
PORT=${LOCAL_CLOUD_PORT:-4577}
ENDPOINT="http://127.0.0.1:$PORT"
VENV="$STATE_DIR/venv"
PID_FILE="$STATE_DIR/server-$PORT.pid"
LOG_FILE="$STATE_DIR/logs/server-$PORT.log"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
REQUIREMENTS="$ROOT/deployment/local_cloud/requirements.txt"

say() { echo "local-cloud: $*" >&2; }

ensure_venv() {
  local stamp="$VENV/.requirements.sha256" want
  want=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
  if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return; fi
  say "installing the pinned moto into $VENV (about 20 s, once)"
  command -v python3 >/dev/null || { say "python3 is required (3.9 or newer)"; exit 1; }
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
  echo "$want" >"$stamp"
}

healthy() { curl -fsS --max-time 2 "$ENDPOINT/_local_cloud/health" >/dev/null 2>&1; }

running() { [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

start() {
  if running && healthy; then echo "$ENDPOINT"; return; fi
  if healthy; then say "port $PORT is taken by another process; set LOCAL_CLOUD_PORT"; exit 1; fi
  ensure_venv
  mkdir -p "$STATE_DIR/logs" "$TARGET_DIR/debug"
  # Its own session, so stop can end the server and every Lambda worker it started.
  rm -f "$PID_FILE"
  # Every descriptor of the background server goes to the log: a caller reading our stdout, as in
  # ENDPOINT=$(deployment/local-cloud.sh start), must see it close when this script ends.
  (cd "$ROOT/deployment" && exec setsid "$VENV/bin/python" -m local_cloud --port "$PORT" --pid-file "$PID_FILE" \
      --lambda-dir "$TARGET_DIR/debug" --state-dir "$STATE_DIR") </dev/null >>"$LOG_FILE" 2>&1 &
  for _ in $(seq 1 150); do
    if healthy; then echo "$ENDPOINT"; return; fi
    if [[ -f "$PID_FILE" ]] && ! running; then say "the server exited; see $LOG_FILE"; tail -20 "$LOG_FILE" >&2; exit 1; fi
    sleep 0.2
  done
  say "the server did not answer within 30 s; see $LOG_FILE"; exit 1
}

stop() {
  if ! running; then rm -f "$PID_FILE"; return; fi
  local pid; pid=$(cat "$PID_FILE")
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
  say "stopped"
}

deploy() {
  running && healthy || { say "not running; start it first with: deployment/local-cloud.sh start"; exit 1; }
  (cd "$ROOT" && cargo build --quiet --workspace --all-targets)
  AWS_ENDPOINT_URL="$ENDPOINT" AWS_REGION="${AWS_REGION:-us-east-1}" \
    AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local-cloud}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local-cloud}" \
    "$TARGET_DIR/debug/infra" deploy "$@"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running && healthy; then echo "$ENDPOINT"; else echo "stopped"; exit 1; fi ;;
  deploy) shift; deploy "$@" ;;
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
