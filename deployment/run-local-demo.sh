#!/usr/bin/env bash
# README command 1: the whole product on the local cloud, no AWS account needed, driven as an operator
# would drive it, with the cognito-backup CLI.
# Builds the workspace, starts the local cloud (unless it already runs), seeds a realistic pool of 1,200
# users and 80 groups, deploys the stack through CloudFormation, then: `cognito-backup status` (no backup
# yet: RPO exceeded), `export --wait`, `status`, a check of the backup against the pool, `create-pool`,
# `restore --wait` (verified), `restore-user` of a user deleted from the pool, a change captured between
# exports (`status` shows it), and `dump`. Stops the local cloud it started. Exits non-zero if any step fails or the restore is not verified.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

echo "Building the workspace (the first build takes a few minutes)…"
cargo build --workspace --all-targets --quiet

if deployment/local-cloud.sh status >/dev/null 2>&1; then
  ENDPOINT=$(deployment/local-cloud.sh status)
  echo "Using the local cloud already running at $ENDPOINT"
else
  echo "Starting the local cloud…"
  ENDPOINT=$(deployment/local-cloud.sh start)
  trap 'deployment/local-cloud.sh stop' EXIT
fi

# The CLI reads the AWS configuration from the environment, as the AWS CLI does.
export AWS_ENDPOINT_URL="$ENDPOINT" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local-cloud AWS_SECRET_ACCESS_KEY=local-cloud
export LOCAL_CLOUD_ENDPOINT="$ENDPOINT"
read -r PREFIX POOL_ID < <("$TARGET_DIR/debug/local-demo" setup)

cb() {
  echo
  echo "\$ cognito-backup $*"
  "$TARGET_DIR/debug/cognito-backup" --stack "$PREFIX" "$@"
}

cb status || echo "(exit $?: no export yet, so the RPO is exceeded)"
cb export --wait
cb status
echo
echo "Checking the backup table against the pool…"
"$TARGET_DIR/debug/local-demo" check "$PREFIX" "$POOL_ID"

TARGET=$("$TARGET_DIR/debug/cognito-backup" --stack "$PREFIX" --json create-pool --name "$PREFIX-restored" \
  | sed -n 's/.*"userPoolId": "\([^"]*\)".*/\1/p')
echo
echo "\$ cognito-backup create-pool --name $PREFIX-restored   → $TARGET"
cb restore --target-pool "$TARGET" --yes --wait

echo
echo "Deleting user-00042 from the restored pool, as an accident would…"
"$TARGET_DIR/debug/local-demo" delete-user "$TARGET" user-00042
cb restore-user --username user-00042 --target-pool "$TARGET"

echo
echo "An administrator creates a user in the protected pool, between exports; change capture takes it from CloudTrail…"
"$TARGET_DIR/debug/local-demo" create-user "$POOL_ID" newcomer-between-exports
sleep 5
cb status

DUMP="$TARGET_DIR/demo-backup.ndjson.gz"
cb dump --out "$DUMP"
echo
echo "Done: the pool was backed up, restored into $TARGET and verified; one user brought back; a dump in $DUMP."
