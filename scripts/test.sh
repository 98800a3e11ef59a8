#!/usr/bin/env bash
# `npm test`: set-up (seconds when cached), type check, lint, then every test against a real
# stack that the tests start on their own ports (Temporal, SeaweedFS, MLflow, ultralytics), then
# the production check (scripts/prod-check.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p tsconfig.json --noEmit
npx eslint .
# bounded: a run that hangs (a test stuck past its own timeout, a process that will not exit) fails
# here with its output so far, well inside CI's 90 minutes, instead of at CI's limit with none
JEST_LIMIT=${GF_TEST_LIMIT:-75m}
timeout --kill-after=60 "$JEST_LIMIT" npx jest --runInBand --forceExit "$@" || {
  rc=$?
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then echo "npm test: jest did not end within $JEST_LIMIT (GF_TEST_LIMIT); stopped" >&2; fi
  exit "$rc"
}
# the production topology (PostgreSQL-backed MLflow, two GPU hosts) as real processes (deploy/README.md);
# a run narrowed to some tests (`npm test -- <path>`) skips it
if [ $# = 0 ]; then bash scripts/prod-check.sh; fi
