"""The MLflow Python client logging a training history, as a baseline for GuardianFlow's epoch stream.

Each mode logs EPOCHS × METRICS values into a new run of EXPERIMENT, the same values and keys
the TypeScript side logs (`bench.m00` … at steps 1..EPOCHS, value = metric + epoch / 1000):
  log_metric        one `MlflowClient.log_metric` call per value (the common training-loop idiom)
  log_batch_epoch   one `log_batch` per epoch with that epoch's metrics (streaming, as GuardianFlow does)
  log_batch_all     one `log_batch` with the whole history (possible only once training has ended)

Usage: mlflow_logging.py --tracking-uri URI --experiment NAME --mode MODE --epochs N --metrics M
Prints {"mode", "run_id", "seconds"} as JSON; `seconds` covers the logging calls only (not the
import of mlflow, the experiment or the run creation).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from mlflow import MlflowClient
from mlflow.entities import Metric

MODES = ("log_metric", "log_batch_epoch", "log_batch_all")


def history(epochs: int, metrics: int, now: int) -> list[list[Metric]]:
    return [[Metric(f"bench.m{m:02d}", m + epoch / 1000, now, epoch) for m in range(metrics)] for epoch in range(1, epochs + 1)]


def log(client: MlflowClient, run_id: str, mode: str, rows: list[list[Metric]]) -> None:
    if mode == "log_metric":
        for row in rows:
            for metric in row:
                client.log_metric(run_id, metric.key, metric.value, timestamp=metric.timestamp, step=metric.step)
    elif mode == "log_batch_epoch":
        for row in rows:
            client.log_batch(run_id, metrics=row)
    else:
        client.log_batch(run_id, metrics=[metric for row in rows for metric in row])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--mode", required=True, choices=MODES)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--metrics", type=int, required=True)
    args = parser.parse_args()
    client = MlflowClient(tracking_uri=args.tracking_uri)
    experiment = client.get_experiment_by_name(args.experiment)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(args.experiment)
    run_id = client.create_run(experiment_id, run_name=f"python-{args.mode}").info.run_id
    rows = history(args.epochs, args.metrics, int(time.time() * 1000))
    started = time.perf_counter()
    log(client, run_id, args.mode, rows)
    seconds = time.perf_counter() - started
    client.set_terminated(run_id, "FINISHED")
    print(json.dumps({"mode": args.mode, "run_id": run_id, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
