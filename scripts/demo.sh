#!/usr/bin/env bash
# The demo, from a fresh clone: set-up, the dev stack with its workers, a synthetic
# detection dataset, a real short CPU training recorded in MLflow, and a screenshot of the
# fleet page.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
./bin/gflow dev up
.venv/bin/python executors/synthetic_dataset.py .gflow/demo/shapes --train 128 --val 32 --size 64 --classes helmet,vest,harness >/dev/null
./bin/gflow run scenarios/examples/demo-shapes.yaml --wait --rerun
# the fleet page (served by `dev up`) with the demo's site, as a picture
./bin/gflow metrics screenshot --output .gflow/demo/fleet-page.png
echo
echo "The stack keeps running: see the UIs above. Stop it with: ./bin/gflow dev down"
