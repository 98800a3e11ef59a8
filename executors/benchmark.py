"""Benchmarks a model on a scenario's data (the `infer` executor): accuracy, latency, size, tracking.

Spec (JSON on stdin, written by activities/gpu/activities.ts): run_dir, model_path (a .pt,
.onnx or OpenVINO folder on this host), input_size, dataset, classes, benchmark {batch_sizes,
warmup_runs, benchmark_runs, conf_threshold, iou_threshold}, environment, tracking (optional
{sequence, ground_truth, tracker}). GPU figures come from NVML (and torch's allocator for the
memory per batch size) and are absent on hosts without an NVIDIA GPU, never zero.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from gf_protocol import ExecutorError, disable_ultralytics_integrations, emit, finite_metrics, offline_env, run  # noqa: E402
from gpu_monitor import GpuMonitor  # noqa: E402
from train import device_arg, rename  # noqa: E402
from yolo_data import split_images  # noqa: E402
import preflight  # noqa: E402


def fp16(env: dict[str, Any]) -> dict[str, Any]:
    """fp16 inference only where it exists: on a GPU."""
    return {"quantize": 16} if env["precision"] == "fp16" and env["device"] != "cpu" else {}


def load_images(paths: list[Path], count: int):
    """`count` real images (cycled when the split is smaller), as BGR arrays like a camera frame."""
    import cv2

    frames = [cv2.imread(str(p)) for p in paths[: max(1, count)]]
    return [frames[i % len(frames)] for i in range(count)]


def percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q))


STAGES = ("preprocess", "inference", "postprocess")


def cuda_memory(env: dict[str, Any]):
    """torch's CUDA allocator when the benchmark runs on a GPU, else None (no figure, never 0)."""
    import torch

    return torch.cuda if env["device"] != "cpu" and torch.cuda.is_available() else None


def latency(model, images, spec: dict[str, Any], gpu: GpuMonitor) -> tuple[dict[str, float], dict[str, Any]]:
    """
    Per batch size: warm-up, then timed predicts of one batch each. The whole call's time gives
    latency and throughput; ultralytics' own per-image `speed` of each call, times the batch,
    splits it into pre-process, inference and post-process (NMS), which weigh differently on an
    edge CPU. On a GPU, the allocator's peak is reset before each batch size, so each one's
    memory is its own.
    """
    import psutil

    bench, env = spec["benchmark"], spec["environment"]
    process = psutil.Process()
    cuda = cuda_memory(env)
    metrics: dict[str, float] = {}
    detail: dict[str, Any] = {}
    for batch_size in bench["batch_sizes"]:
        batch = images[:batch_size] if len(images) >= batch_size else (images * batch_size)[:batch_size]
        predict = lambda: model.predict(batch, imgsz=spec["input_size"], conf=bench["conf_threshold"], iou=bench["iou_threshold"], device=device_arg(env["device"]), verbose=False, **fp16(env))  # noqa: E731
        if cuda is not None:
            cuda.reset_peak_memory_stats()
        for _ in range(bench["warmup_runs"]):
            predict()
        times: list[float] = []
        stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
        cpu_before, wall_before = process.cpu_times(), time.perf_counter()
        for _ in range(bench["benchmark_runs"]):
            start = time.perf_counter()
            results = predict()
            times.append((time.perf_counter() - start) * 1000)
            for stage in STAGES:
                stages[stage].append(results[0].speed[stage] * batch_size)
            gpu.sample()
        wall = time.perf_counter() - wall_before
        cpu_after = process.cpu_times()
        cpu_pct = 100 * ((cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)) / wall / psutil.cpu_count()
        mean = sum(times) / len(times)
        figures = {
            "latency_ms": mean,
            "latency_ms_p50": percentile(times, 50),
            "latency_ms_p95": percentile(times, 95),
            "latency_ms_p99": percentile(times, 99),
            "fps": 1000 * batch_size / mean,
            **{f"{stage}_ms": sum(values) / len(values) for stage, values in stages.items()},
        }
        metrics.update({f"sys.bs{batch_size}.{k}": v for k, v in figures.items()})
        detail[f"bs{batch_size}"] = {**figures, "cpu_util_pct": cpu_pct, "runs_ms": times}
        if cuda is not None:
            memory = cuda.max_memory_allocated() / 2**20
            metrics[f"sys.bs{batch_size}.gpu_memory_mb"] = memory
            detail[f"bs{batch_size}"]["gpu_memory_mb"] = memory
    first = min(bench["batch_sizes"])
    metrics.update({f"sys.{k}": v for k, v in detail[f"bs{first}"].items() if k not in ("runs_ms", "gpu_memory_mb")})
    return metrics, detail


def model_figures(model_path: Path, model) -> dict[str, float]:
    files = [model_path] if model_path.is_file() else [p for p in model_path.rglob("*") if p.is_file()]
    figures = {"sys.model_size_mb": sum(f.stat().st_size for f in files) / 1e6}
    if model_path.suffix == ".pt":
        from ultralytics.utils.torch_utils import get_flops

        figures["sys.model_params_m"] = sum(p.numel() for p in model.model.parameters()) / 1e6
        figures["sys.model_gflops"] = float(get_flops(model.model))
    return figures


def track(model, spec: dict[str, Any], run_dir: Path) -> tuple[dict[str, float], Path]:
    """Runs the model's tracker over the frame sequence and scores it against the ground truth."""
    from mot_metrics import mot_metrics

    tracking, bench = spec["tracking"], spec["benchmark"]
    frames = sorted(p for p in Path(tracking["sequence"]).iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".bmp"})
    if not frames:
        raise ExecutorError("data", f"benchmark.tracking.sequence: no frames in {tracking['sequence']}")
    if not Path(tracking["ground_truth"]).is_file():
        raise ExecutorError("data", f"benchmark.tracking.ground_truth: {tracking['ground_truth']} does not exist")
    rows = []
    for number, frame in enumerate(frames, start=1):
        result = model.track(str(frame), persist=True, tracker=f"{tracking['tracker']}.yaml", imgsz=spec["input_size"], conf=bench["conf_threshold"], iou=bench["iou_threshold"], device=device_arg(spec["environment"]["device"]), verbose=False)[0]
        boxes = result.boxes
        if boxes is None or boxes.id is None:
            continue
        for track_id, (x1, y1, x2, y2), conf in zip(boxes.id.tolist(), boxes.xyxy.tolist(), boxes.conf.tolist()):
            rows.append(f"{number},{int(track_id)},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{conf:.4f},-1,-1,-1")
    pred = run_dir / "tracking" / "pred.txt"
    pred.parent.mkdir(parents=True, exist_ok=True)
    pred.write_text("\n".join(rows) + ("\n" if rows else ""))
    return mot_metrics(Path(tracking["ground_truth"]), pred), pred


def benchmark(spec: dict[str, Any]) -> None:
    offline_env(spec.get("yolo_config_dir"))
    disable_ultralytics_integrations()
    data_yaml = spec["dataset"]["path"]
    preflight.benchmark(spec)
    model_path = Path(spec["model_path"])

    import torch
    import ultralytics
    from ultralytics import YOLO

    run_dir = Path(spec["run_dir"])
    env, bench = spec["environment"], spec["benchmark"]
    model = YOLO(str(model_path), task="detect")
    figures = model_figures(model_path, model)

    emit("progress", stage="validate")
    validation = model.val(data=data_yaml, imgsz=spec["input_size"], batch=1, device=device_arg(env["device"]), conf=0.001, iou=bench["iou_threshold"], plots=False, verbose=False, project=str(run_dir), name="val", exist_ok=True, **fp16(env))
    metrics = rename(validation.results_dict)
    per_class = {validation.names[int(c)]: float(validation.box.ap50[i]) for i, c in enumerate(validation.ap_class_index)}
    metrics.update({f"det.ap50.{name}": ap for name, ap in per_class.items()})

    emit("progress", stage="latency")
    gpu = GpuMonitor(env["device"])
    images = load_images(split_images(data_yaml, "val"), max(bench["batch_sizes"]))
    timing, detail = latency(model, images, spec, gpu)
    metrics.update(timing)
    metrics.update(figures)
    metrics.update(gpu.metrics())

    if spec.get("tracking"):
        emit("progress", stage="tracking")
        mot, pred = track(YOLO(str(model_path), task="detect"), spec, run_dir)
        metrics.update(mot)
        emit("artifact", path=str(pred), kind="table")

    report = run_dir / "benchmark.json"
    report.write_text(json.dumps({
        "model": str(model_path),
        "metrics": finite_metrics(metrics),
        "per_class_ap50": per_class,
        "latency": detail,
        "environment": {"device": env["device"], "torch": torch.__version__, "ultralytics": ultralytics.__version__, "python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
    }, indent=2))
    emit("artifact", path=str(report), kind="table")
    emit("result", metrics=finite_metrics(metrics))


if __name__ == "__main__":
    run(benchmark)
