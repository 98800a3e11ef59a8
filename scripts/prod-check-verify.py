"""Reads back what scripts/prod-check.sh's pipeline and sweep recorded, with MLflow's own client and
boto3 rather than GuardianFlow's code, so the check does not trust what it checks:

- every run of the site's experiment is FINISHED: a pipeline (train, quant with its variant, infer
  stages) and a sweep (4 trials), each nested under its parent;
- the sweep's trials ran on both GPU hosts (`sys.host`);
- the artifacts GuardianFlow wrote (summary.csv, results.csv, the chart the control worker renders,
  the trained weights) are in the S3 bucket under each run's folder, and MLflow's artifact proxy
  lists the same files;
- the registered model has a `champion` (the pipeline's promotion) and a `candidate` (the sweep's best).

Servers and credentials from the environment (MLFLOW_TRACKING_URI, GF_S3_ENDPOINT, AWS_*).
Exits 1 naming the first thing that is not so.
"""

from __future__ import annotations

import argparse
import os
import sys

import boto3
from mlflow.tracking import MlflowClient


class CheckFailed(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def s3_key(artifact_uri: str, path: str) -> str:
    """mlflow-artifacts:/<exp>/<run>/artifacts → mlflow-artifacts/<exp>/<run>/artifacts/<path> (the server's --artifacts-destination prefix)."""
    prefix = "mlflow-artifacts:/"
    check(artifact_uri.startswith(prefix), f"artifact_uri {artifact_uri} is not proxied by the server ({prefix}…)")
    return f"mlflow-artifacts/{artifact_uri[len(prefix):].strip('/')}/{path}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--hosts", required=True, help="comma-separated GPU host ids the sweep's trials must cover")
    args = parser.parse_args()

    client = MlflowClient()
    s3 = boto3.client("s3", endpoint_url=os.environ["GF_S3_ENDPOINT"])

    def in_bucket(run, path: str) -> None:
        key = s3_key(run.info.artifact_uri, path)
        listed = s3.list_objects_v2(Bucket=args.bucket, Prefix=key).get("Contents", [])
        check(any(o["Key"] == key for o in listed), f"run {run.info.run_name}: s3://{args.bucket}/{key} missing")
        proxied = {a.path for a in client.list_artifacts(run.info.run_id, os.path.dirname(path) or None)}
        check(path in proxied, f"run {run.info.run_name}: MLflow's artifact proxy does not list {path} (it lists {sorted(proxied)})")

    experiment = client.get_experiment_by_name(args.experiment)
    check(experiment is not None, f"experiment {args.experiment} not in MLflow")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    tags = {r.info.run_id: r.data.tags for r in runs}
    not_finished = [f"{r.info.run_name}={r.info.status}" for r in runs if r.info.status != "FINISHED"]
    check(not not_finished, f"runs not FINISHED: {not_finished}")

    def children(parent) -> list:
        return [r for r in runs if tags[r.info.run_id].get("mlflow.parentRunId") == parent.info.run_id]

    def parent_of(design: str):
        parents = [r for r in runs if tags[r.info.run_id].get("exp.design") == design and "mlflow.parentRunId" not in tags[r.info.run_id]]
        check(len(parents) == 1, f"expected one {design} parent run, found {len(parents)}")
        return parents[0]

    pipeline = parent_of("pipeline")
    stages = {tags[r.info.run_id].get("exp.type"): r for r in children(pipeline)}
    check({"train", "quant", "infer"} <= set(stages), f"pipeline stages: {sorted(k for k in stages if k)} (expected train, quant, infer)")
    check(len(children(stages["quant"])) == 1, "the quant stage has no variant run")
    in_bucket(pipeline, "summary.csv")
    in_bucket(stages["train"], "weights/best.pt")

    sweep = parent_of("sweep")
    trials = children(sweep)
    check(len(trials) == 4, f"sweep trials: {len(trials)} (expected 4)")
    in_bucket(sweep, "results.csv")
    in_bucket(sweep, "sweep_chart.png")
    hosts = {tags[t.info.run_id].get("sys.host") for t in trials}
    wanted = set(args.hosts.split(","))
    check(hosts == wanted, f"sweep trials ran on {sorted(h or '?' for h in hosts)}, expected {sorted(wanted)}")

    champion = client.get_model_version_by_alias(args.model, "champion")
    candidate = client.get_model_version_by_alias(args.model, "candidate")
    run_ids = {r.info.run_id for r in runs}
    check(champion.run_id in run_ids, f"champion {args.model}/{champion.version} comes from run {champion.run_id}, not from this check")
    check(candidate.run_id in {t.info.run_id for t in trials}, f"candidate {args.model}/{candidate.version} is not a sweep trial's")

    print(f"{len(runs)} runs FINISHED in {args.experiment}: pipeline {pipeline.info.run_id} ({len(children(pipeline))} stages), "
          f"sweep {sweep.info.run_id} ({len(trials)} trials on {', '.join(sorted(hosts))})")
    print(f"artifacts in s3://{args.bucket}/mlflow-artifacts and listed by MLflow; {args.model}@champion = version {champion.version}, "
          f"@candidate = version {candidate.version}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckFailed as err:
        print(f"prod-check-verify: {err}", file=sys.stderr)
        sys.exit(1)
