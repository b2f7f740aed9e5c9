#!/usr/bin/env bash
# Builds what a real deployment needs, as the original solution's build-s3-dist.sh did:
#   deployment/global-s3-assets/    the main and the regional CloudFormation templates
#   deployment/regional-s3-assets/  one arm64 Lambda zip per step (<binary>.zip) and the regional template
# Copy global-s3-assets to s3://BUCKET-<primary region>/SOLUTION/VERSION/ and regional-s3-assets to
# s3://BUCKET-<region>/SOLUTION/VERSION/ in both Regions, then launch the main template (README).
#
# Usage: deployment/build-s3-dist.sh BUCKET SOLUTION VERSION     (e.g. my-assets cognito-backup v1.0.0)
# Installs cargo-lambda (pinned, from PyPI, into .build/venv) and the arm64 standard library if missing.
set -euo pipefail

if [[ $# -ne 3 ]]; then
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  exit 1
fi
BUCKET=$1 SOLUTION=$2 VERSION=$3
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
CARGO_LAMBDA_VERSION=1.9.2
GLOBAL="$ROOT/deployment/global-s3-assets"
REGIONAL="$ROOT/deployment/regional-s3-assets"

if ! command -v cargo-lambda >/dev/null 2>&1; then
  if [[ ! -x "$ROOT/.build/venv/bin/cargo-lambda" ]]; then
    echo "Installing cargo-lambda $CARGO_LAMBDA_VERSION into .build/venv…"
    python3 -m venv "$ROOT/.build/venv"
    "$ROOT/.build/venv/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
  fi
  export PATH="$ROOT/.build/venv/bin:$PATH"
fi
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu || { echo "cannot add the aarch64-unknown-linux-gnu target: the arm64 build needs it" >&2; exit 1; }
fi

echo "Building every step's Lambda (release, arm64, provided.al2023)…"
cargo lambda build --release --arm64 --output-format zip -p workflow-lambdas --lambda-dir "$TARGET_DIR/lambda-arm64"

rm -rf "$GLOBAL" "$REGIONAL"
mkdir -p "$GLOBAL" "$REGIONAL"
for zip in "$TARGET_DIR"/lambda-arm64/*/bootstrap.zip; do
  cp "$zip" "$REGIONAL/$(basename "$(dirname "$zip")").zip"
done

echo "Synthesizing the templates for s3://$BUCKET-<region>/$SOLUTION/$VERSION/…"
cargo run --quiet -p infra -- synth --out "$GLOBAL" --bucket-prefix "$BUCKET" --solution "$SOLUTION" --version "$VERSION" >/dev/null
cp "$GLOBAL/regional-stack.template.json" "$REGIONAL/"

# The templates must reference exactly the zips built, no more, no fewer.
python3 - "$GLOBAL" "$REGIONAL" <<'PY'
import json, os, sys
glob, regional = sys.argv[1], sys.argv[2]
def keys(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k == "S3Key":
                yield (x["Fn::Sub"] if isinstance(x, dict) else x).rsplit("/", 1)[-1]
            else:
                yield from keys(x)
    elif isinstance(v, list):
        for x in v:
            yield from keys(x)
referenced = set()
for name in os.listdir(glob):
    referenced |= set(keys(json.load(open(os.path.join(glob, name)))))
built = {f for f in os.listdir(regional) if f.endswith(".zip")}
if referenced != built:
    sys.exit(f"templates and zips differ: referenced only {sorted(referenced - built)}, built only {sorted(built - referenced)}")
print(f"{len(built)} zips, each referenced by the templates")
PY
echo "global assets:   $GLOBAL"
echo "regional assets: $REGIONAL"
