#!/usr/bin/env bash
# `npm test`: set-up (seconds when cached), type check, lint, then every test against a real
# stack that the tests start on their own ports (Temporal, SeaweedFS, MLflow, ultralytics).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p tsconfig.json --noEmit
npx eslint .
npx jest --runInBand --forceExit "$@"
