#!/usr/bin/env bash
# `npm test`: set-up (seconds when cached), type check, lint, then every test against a real
# stack that the tests start on their own ports (Temporal, SeaweedFS, MLflow, ultralytics), then
# the production check (scripts/prod-check.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p tsconfig.json --noEmit
npx eslint .
npx jest --runInBand --forceExit "$@"
# the production topology (PostgreSQL-backed MLflow, two GPU hosts) as real processes (deploy/README.md);
# a run narrowed to some tests (`npm test -- <path>`) skips it
if [ $# = 0 ]; then bash scripts/prod-check.sh; fi
