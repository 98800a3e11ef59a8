"""The seeds' way of reading the fleet, as a baseline for GuardianFlow's FleetStore.

Modes:
  search        `mlflow.search_runs` of the given experiments into a pandas DataFrame (every
                run, every page, as the seeds' MetricsStore queries do), then the seeds'
                `/api/metrics/summary` over it (groupby by type and task, mean and best mAP50,
                mean latency, over the last 30 days)
  delete-extra  deletes the runs tagged `<extra-tag> = 'true'` (the bench's incremental
                batches), so the next bench reads the same fleet

Usage: fleet_search_runs.py --tracking-uri URI --mode MODE --extra-tag TAG --experiment-id ID ...
Prints {"mode", "seconds", "rows", "columns", "summary_seconds"} (search) or {"mode",
"deleted"} as JSON on its last line; `seconds` covers the `search_runs` call only (not Python's
start-up or the import of mlflow and pandas).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import mlflow
import pandas as pd
from mlflow import MlflowClient


def search(experiment_ids: list[str]) -> dict:
    started = time.perf_counter()
    df = mlflow.search_runs(experiment_ids=experiment_ids)
    seconds = time.perf_counter() - started

    started = time.perf_counter()
    recent = df[df["start_time"] >= pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=30)]
    summary = {
        "total_experiments": len(recent),
        "by_type": recent.groupby("tags.exp.type").size().to_dict(),
        "by_task": recent.groupby("tags.task.type").size().to_dict(),
        "avg_mAP50": float(recent["metrics.det.mAP50"].mean()),
        "best_mAP50": float(recent["metrics.det.mAP50"].max()),
        "avg_inference_time_ms": float(recent["metrics.sys.latency_ms_p50"].mean()),
    }
    summary_seconds = time.perf_counter() - started
    return {"mode": "search", "seconds": seconds, "rows": len(df), "columns": len(df.columns), "summary_seconds": summary_seconds, "summary_rows": summary["total_experiments"]}


def delete_extra(experiment_ids: list[str], tag: str) -> dict:
    client = MlflowClient()
    runs = client.search_runs(experiment_ids, filter_string=f"tags.`{tag}` = 'true'", max_results=50000)
    for run in runs:
        client.delete_run(run.info.run_id)
    return {"mode": "delete-extra", "deleted": len(runs)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--mode", required=True, choices=("search", "delete-extra"))
    parser.add_argument("--extra-tag", required=True)
    parser.add_argument("--experiment-id", action="append", required=True, dest="experiment_ids")
    args = parser.parse_args(argv)
    mlflow.set_tracking_uri(args.tracking_uri)
    out = search(args.experiment_ids) if args.mode == "search" else delete_extra(args.experiment_ids, args.extra_tag)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
