"""The seeds' sweep runner, as a baseline: a ThreadPoolExecutor of G threads, each trial a nested
MLflow run made with the MLflow client, running the stand-in executor in a subprocess.

Usage: seeds_sweep.py --tracking-uri URI --experiment NAME --trials N --slots G --executor PATH
                      --work-dir DIR   (the executor's env sets its duration and timeline file)
Prints {"parent_run_id", "started", "finished"} as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Metric, Param


_slots: dict[int, int] = {}
_slots_lock = threading.Lock()


def slot_of_thread() -> int:
    """0, 1, … for the pool's threads, in the order they first ask."""
    with _slots_lock:
        return _slots.setdefault(threading.get_ident(), len(_slots))


def run_trial(client: MlflowClient, args, experiment_id: str, parent: str, index: int) -> None:
    lr = round(0.001 * (index % 20 + 1), 4)
    run = client.create_run(experiment_id, run_name=f"seeds-sweep-{index:04d}", tags={"mlflow.parentRunId": parent, "sweep.index": str(index)})
    run_id = run.info.run_id
    client.log_batch(run_id, params=[Param("learning_rate", str(lr))])
    run_dir = Path(args.work_dir) / f"trial-{index}"
    run_dir.mkdir(parents=True, exist_ok=True)
    spec = {"run_dir": str(run_dir), "training": {"epochs": 1, "batch_size": 16, "learning_rate": lr}, "dataset": {"path": "none"}}
    # each thread is a slot, as a runner that pins its threads to GPUs does: the timeline says which
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": str(slot_of_thread())}
    done = subprocess.run([sys.executable, args.executor], input=json.dumps(spec), capture_output=True, text=True, check=False, env=env)
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    result = next((e for e in events if e.get("event") == "result"), {"metrics": {}})
    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, v, now, 1) for k, v in result["metrics"].items()])
    client.set_terminated(run_id, "FINISHED" if done.returncode == 0 else "FAILED")


def main() -> int:
    parser = argparse.ArgumentParser()
    for flag in ("--tracking-uri", "--experiment", "--executor", "--work-dir"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--trials", type=int, required=True)
    parser.add_argument("--slots", type=int, required=True)
    args = parser.parse_args()
    client = MlflowClient(tracking_uri=args.tracking_uri)
    experiment = client.get_experiment_by_name(args.experiment)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(args.experiment)
    started = time.time()
    parent = client.create_run(experiment_id, run_name="seeds-sweep", tags={"experiment.design": "sweep"}).info.run_id
    with ThreadPoolExecutor(max_workers=args.slots) as pool:
        for future in [pool.submit(run_trial, client, args, experiment_id, parent, i) for i in range(args.trials)]:
            future.result()
    client.set_terminated(parent, "FINISHED")
    print(json.dumps({"parent_run_id": parent, "started": started, "finished": time.time()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
