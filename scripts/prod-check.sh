#!/usr/bin/env bash
# The production topology of docker-compose.yml + deploy/gpu-host, as real processes (Docker cannot
# run here): PostgreSQL with the database deploy/postgres/create-mlflow-db.sql creates, MLflow on it
# with artifacts proxied to SeaweedFS (bucket made by deploy/seaweedfs/create-bucket.sh), Temporal
# (search attributes registered by deploy/temporal/register-search-attributes.sh, not by the dev
# server), the control worker, and two GPU hosts (own GF_GPU_HOST_ID and GF_WORK_DIR; stand-in
# executors, test/support/stand-in-gpu-host.mjs), whose build `gflow version set-current` makes the
# worker deployment's current version, as on a rollout. A pipeline and a sweep go through `gflow run
# --wait`; then scripts/prod-check-verify.py reads MLflow, S3 and the registry back, and this
# script asks Temporal and PostgreSQL. Run by scripts/test.sh (`npm test`) after set-up.
#
# Loopback ports GF_PROD_CHECK_PORT (27420) .. +19. No root needed: as root, PostgreSQL (which
# refuses root) runs as `nobody`. Every process and the temp folder go on exit, whatever happens;
# a failure names its step and shows the end of that step's log.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${GF_PYTHON:-$ROOT/.venv/bin/python}
VENV_BIN=$(dirname "$PYTHON")
PG_BIN=${GF_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
BASE=${GF_PROD_CHECK_PORT:-27420}
started_at=$(date +%s)

PG_PORT=$BASE MLFLOW_PORT=$((BASE + 1))
WEED_MASTER_PORT=$((BASE + 2)) WEED_VOLUME_PORT=$((BASE + 4)) WEED_FILER_PORT=$((BASE + 6)) S3_PORT=$((BASE + 8))
TEMPORAL_PORT=$((BASE + 10)) TEMPORAL_UI_PORT=$((BASE + 11)) TEMPORAL_HTTP_PORT=$((BASE + 12)) TEMPORAL_METRICS_PORT=$((BASE + 13))

STEP="start"
LOG=""
PIDS=()
TMP=$(mktemp -d "${TMPDIR:-/tmp}/gflow-prod-check.XXXXXX")
PGDATA=$TMP/postgres/data

say() { printf '[prod-check] %s\n' "$*"; }
step() { STEP=$1; LOG=${2:-}; say "$STEP"; }

# As root, PostgreSQL runs as nobody: its folder is nobody's, the temp folder only traversable.
if [ "$(id -u)" = 0 ]; then
  PG_AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
  chmod 711 "$TMP"
else
  PG_AS=()
fi
pg() { "${PG_AS[@]}" "$PG_BIN/$1" "${@:2}"; }

on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$rc" != 0 ]; then
    say "FAILED at step: $STEP (exit $rc)"
    if [ -n "$LOG" ] && [ -f "$LOG" ]; then
      say "last lines of $LOG:"
      tail -n 40 "$LOG" | sed 's/^/    /'
    fi
  fi
  # each process leads its own process group (setsid): TERM the groups, then KILL what is left
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  if [ -f "$PGDATA/postmaster.pid" ]; then pg pg_ctl -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$TMP"
  say "$([ "$rc" = 0 ] && echo passed || echo failed) in $(($(date +%s) - started_at)) s"
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# Starts a long-running process in its own process group, logging to $TMP/logs/NAME.log.
spawn() {
  local name=$1; shift
  LOG=$TMP/logs/$name.log
  setsid "$@" >"$LOG" 2>&1 < /dev/null &
  PIDS+=("$!")
}

# Polls CHECK (a command) every half second up to SECONDS, failing the step if it never passes
# or if the last spawned process died meanwhile.
wait_for() {
  local seconds=$1; shift
  local deadline=$(($(date +%s) + seconds)) last=${PIDS[${#PIDS[@]}-1]:-}
  until "$@" >/dev/null 2>&1; do
    if [ -n "$last" ] && ! kill -0 "$last" 2>/dev/null; then say "the process of this step exited"; return 1; fi
    if [ "$(date +%s)" -ge "$deadline" ]; then say "not ready after ${seconds} s"; return 1; fi
    sleep 0.5
  done
}
http_ok() { curl -fsS -o /dev/null --max-time 3 "$1"; }
log_has() { grep -q "$2" "$TMP/logs/$1.log"; }

mkdir -p "$TMP/logs" "$TMP/postgres"
secret() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
PG_PASSWORD=$(secret)
export AWS_ACCESS_KEY_ID=prodcheck AWS_SECRET_ACCESS_KEY=$(secret) AWS_DEFAULT_REGION=us-east-1
BUCKET=guardianflow
export GF_S3_BUCKET=$BUCKET

step "PostgreSQL: initdb (scram-sha-256 everywhere, no trust) and start on 127.0.0.1:$PG_PORT" "$TMP/logs/postgres.log"
[ -x "$PG_BIN/initdb" ] || { say "PostgreSQL not found (GF_PG_BIN=$PG_BIN); scripts/setup.sh installs Debian's postgresql"; exit 1; }
printf '%s\n' "$PG_PASSWORD" > "$TMP/postgres/pwfile"
chmod 600 "$TMP/postgres/pwfile"
[ "$(id -u)" = 0 ] && chown -R nobody:nogroup "$TMP/postgres"
pg initdb -D "$PGDATA" -U guardianflow --pwfile="$TMP/postgres/pwfile" --auth=scram-sha-256 -E UTF8 --no-locale >"$LOG" 2>&1
rm -f "$TMP/postgres/pwfile"
if grep -v '^\s*#' "$PGDATA/pg_hba.conf" | grep -qw trust; then say "pg_hba.conf has a trust line"; exit 1; fi
pg pg_ctl -D "$PGDATA" -l "$TMP/postgres/server.log" -w -t 60 \
  -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $TMP/postgres" start >>"$LOG" 2>&1 || { LOG=$TMP/postgres/server.log; exit 1; }
export PGPASSWORD=$PG_PASSWORD
psql_as() { "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U guardianflow -v ON_ERROR_STOP=1 -X -q "$@"; }

step "PostgreSQL: the mlflow database (deploy/postgres/create-mlflow-db.sql)" "$TMP/logs/postgres.log"
psql_as -d postgres -f deploy/postgres/create-mlflow-db.sql >>"$LOG" 2>&1
if PGPASSWORD=wrong psql_as -d mlflow -c 'select 1' >/dev/null 2>&1; then say "PostgreSQL accepted a wrong password"; exit 1; fi

step "SeaweedFS: master, volume, filer and S3 on 127.0.0.1:$S3_PORT"
mkdir -p "$TMP/seaweedfs"
sh deploy/seaweedfs/write-s3-config.sh "$TMP/seaweedfs/s3.json"
spawn seaweedfs "$VENV_BIN/weed" server -dir="$TMP/seaweedfs" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.port="$WEED_MASTER_PORT" -master.port.grpc=$((WEED_MASTER_PORT + 1)) -master.volumeSizeLimitMB=64 \
  -volume.port="$WEED_VOLUME_PORT" -volume.port.grpc=$((WEED_VOLUME_PORT + 1)) -volume.max=0 \
  -filer -filer.port="$WEED_FILER_PORT" -filer.port.grpc=$((WEED_FILER_PORT + 1)) \
  -s3 -s3.port="$S3_PORT" -s3.port.grpc=$((S3_PORT + 1)) -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$TMP/seaweedfs/s3.json"
wait_for 90 http_ok "http://127.0.0.1:$S3_PORT/healthz"
wait_for 30 http_ok "http://127.0.0.1:$WEED_MASTER_PORT/cluster/healthz"

step "SeaweedFS: the bucket (deploy/seaweedfs/create-bucket.sh, twice: a rerun is harmless)" "$TMP/logs/create-bucket.log"
for _ in 1 2; do
  WEED="$VENV_BIN/weed" WEED_MASTER=127.0.0.1:$WEED_MASTER_PORT.$((WEED_MASTER_PORT + 1)) WEED_FILER=127.0.0.1:$WEED_FILER_PORT.$((WEED_FILER_PORT + 1)) \
    sh deploy/seaweedfs/create-bucket.sh >>"$LOG" 2>&1
done

step "MLflow on PostgreSQL, artifacts proxied to s3://$BUCKET/mlflow-artifacts, on 127.0.0.1:$MLFLOW_PORT"
# the backend URI (with its password) goes through MLflow's own variable, not the command line
spawn mlflow env MLFLOW_BACKEND_STORE_URI="postgresql+psycopg2://guardianflow:$PG_PASSWORD@127.0.0.1:$PG_PORT/mlflow" \
  MLFLOW_S3_ENDPOINT_URL="http://127.0.0.1:$S3_PORT" MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
  "$VENV_BIN/mlflow" server --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 1 --artifacts-destination "s3://$BUCKET/mlflow-artifacts"
wait_for 180 http_ok "http://127.0.0.1:$MLFLOW_PORT/health"

step "Temporal server on 127.0.0.1:$TEMPORAL_PORT (no search attributes of its own)"
spawn temporal env TEMPORAL_TELEMETRY_DISABLED=1 "$VENV_BIN/temporal" server start-dev --ip 127.0.0.1 --port "$TEMPORAL_PORT" \
  --ui-port "$TEMPORAL_UI_PORT" --http-port "$TEMPORAL_HTTP_PORT" --metrics-port "$TEMPORAL_METRICS_PORT" --headless \
  --db-filename "$TMP/temporal.db" --log-level warn --dynamic-config-value frontend.enableServerVersionCheck=false
export TEMPORAL_ADDRESS=127.0.0.1:$TEMPORAL_PORT TEMPORAL_NAMESPACE=default TEMPORAL_CONFIG_FILE=$TMP/no-temporal.toml
wait_for 90 "$VENV_BIN/temporal" operator cluster health

step "Temporal: search attributes (deploy/temporal/register-search-attributes.sh)" "$TMP/logs/search-attributes.log"
PATH="$VENV_BIN:$PATH" sh deploy/temporal/register-search-attributes.sh >"$LOG" 2>&1

# what every GuardianFlow process gets, as on the control host and the GPU hosts (deploy/README.md)
export MLFLOW_TRACKING_URI=http://127.0.0.1:$MLFLOW_PORT GF_S3_ENDPOINT=http://127.0.0.1:$S3_PORT GF_PYTHON=$PYTHON
export GF_FAKE_EPOCH_SECONDS=1   # stand-in epochs long enough that the sweep's two parallel trials overlap on both hosts

step "control worker (node --no-turbo-escape --optimize-for-size dist/workers/control.js)"
spawn control env GF_STATE_DIR="$TMP/control" node --no-turbo-escape --optimize-for-size dist/workers/control.js
wait_for 60 log_has control 'control worker polling'

for host in host-a host-b; do
  step "GPU host $host (own GF_GPU_HOST_ID and GF_WORK_DIR; stand-in executors)"
  spawn "$host" env GF_GPU_HOST_ID="$host" GF_STATE_DIR="$TMP/$host" GF_WORK_DIR="$TMP/$host/work" GF_GPU_DEVICES=cpu GF_GPU_SLOTS_PER_DEVICE=1 \
    node test/support/stand-in-gpu-host.mjs
  wait_for 60 log_has "$host" 'GPU worker'
done

gflow() { GF_STATE_DIR="$TMP/cli" node dist/cli/gflow.js "$@"; }

# Worker Versioning: the workers joined the deployment as this checkout's build, which gets work once current
step "this build made the current version of the worker deployment (gflow version set-current)" "$TMP/logs/set-current.log"
gflow version set-current >"$LOG" 2>&1
gflow version >>"$LOG" 2>&1
grep -q "current $(node -p "require('./package.json').version")-" "$LOG" || { say "gflow version does not show this build as current"; exit 1; }

scenario() {
  cat <<EOF
name: prod-check-$1
version: v1
type: train
design: $1
site: { customer: prod-co, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [helmet, vest] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /data/sites/prod-co/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
training: { epochs: 3, batch_size: 16, learning_rate: 0.01 }
EOF
}
{ scenario pipeline; cat <<'EOF'; } > "$TMP/pipeline.yaml"
quantization: { variants: [ { backend: onnx, precision: fp32 } ], calibration_size: 8 }
promotion: { metric: det.mAP50, min_improvement: 0, max_accuracy_drop: 0.05 }
EOF
{ scenario sweep; cat <<'EOF'; } > "$TMP/sweep.yaml"
sweep: { parameters: { learning_rate: [0.005, 0.01], batch_size: [8, 16] }, strategy: grid, parallel: 2, metric: det.mAP50, goal: maximize }
EOF

# the dataset lives on the GPU hosts, not here: --no-check-files, as deploy/README.md says
step "pipeline through gflow run --wait" "$TMP/logs/pipeline-run.log"
gflow run "$TMP/pipeline.yaml" --wait --no-check-files >"$LOG" 2>&1
step "sweep through gflow run --wait" "$TMP/logs/sweep-run.log"
gflow run "$TMP/sweep.yaml" --wait --no-check-files >"$LOG" 2>&1

step "MLflow, S3 and the registry read back (scripts/prod-check-verify.py)" "$TMP/logs/verify.log"
"$PYTHON" scripts/prod-check-verify.py --experiment prod-co/ci-lab/bench --model prod-co.ci-lab.bench.ppe \
  --bucket "$BUCKET" --hosts host-a,host-b >"$LOG" 2>&1
sed 's/^/    /' "$LOG"

step "Temporal: both workflows Completed, found by their search attributes" "$TMP/logs/temporal-list.log"
for design in pipeline sweep; do
  "$VENV_BIN/temporal" workflow list --query "GfSite='prod-co/ci-lab/bench' AND GfDesign='$design' AND ExecutionStatus='Completed'" >"$LOG" 2>&1
  grep -q "gf/$design/" "$LOG" || { say "no completed $design workflow listed"; exit 1; }
done

step "PostgreSQL holds MLflow's runs" "$TMP/logs/postgres-runs.log"
finished=$(psql_as -d mlflow -tA -c "select count(*) from runs where status = 'FINISHED'" 2>"$LOG")
other=$(psql_as -d mlflow -tA -c "select count(*) from runs where status <> 'FINISHED'" 2>>"$LOG")
say "PostgreSQL: $finished FINISHED runs, $other others"
[ "$finished" -ge 9 ] && [ "$other" = 0 ] || { say "expected every run FINISHED (at least 9), got $finished FINISHED and $other others"; exit 1; }

STEP="done"
