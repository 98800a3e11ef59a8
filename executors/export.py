"""Exports a trained YOLO model to the requested backends and precisions (the `quant` executor).

Spec (JSON on stdin, written by activities/gpu/activities.ts): run_dir, weights, input_size,
dataset, classes, variants [{backend, precision}], calibration_size, environment. Every
variant is checked before any export, so an unsupported one (TensorRT on a host without it)
fails at once with kind `unsupported`. INT8 is calibrated on `calibration_size` images of the
dataset's train split, never on a dataset ultralytics would download.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from gf_protocol import ExecutorError, disable_ultralytics_integrations, emit, offline_env, run  # noqa: E402
from yolo_data import split_images  # noqa: E402
import preflight  # noqa: E402
from train import device_arg  # noqa: E402

# backend → ultralytics export format; precision → its `quantize` value
FORMATS = {"onnx": "onnx", "openvino": "openvino", "tensorrt": "engine"}
QUANTIZE = {"fp32": 32, "fp16": 16, "int8": 8}


def check_variants(variants: list[dict[str, str]], device: str) -> None:
    """Refuses, before any work, what this host cannot export."""
    import torch

    for i, variant in enumerate(variants):
        if variant["backend"] != "tensorrt":
            continue
        if importlib.util.find_spec("tensorrt") is None:
            raise ExecutorError("unsupported", f"quantization.variants[{i}]: TensorRT is not installed on this host")
        if device == "cpu" or not torch.cuda.is_available():
            raise ExecutorError("unsupported", f"quantization.variants[{i}]: TensorRT needs a CUDA GPU; this job runs on the CPU")


def size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(f.stat().st_size for f in files) / 1e6


def export(spec: dict[str, Any]) -> None:
    offline_env(spec.get("yolo_config_dir"))
    disable_ultralytics_integrations()
    env, variants = spec["environment"], spec["variants"]
    check_variants(variants, env["device"])
    data_yaml = spec["dataset"]["path"]
    preflight.export(spec)
    weights = Path(spec["weights"])

    from ultralytics import YOLO

    calibration = min(1.0, spec["calibration_size"] / max(1, len(split_images(data_yaml, "train"))))
    exports = []
    for i, variant in enumerate(variants):
        backend, precision = variant["backend"], variant["precision"]
        emit("progress", stage="export", variant=i)
        target = Path(spec["run_dir"]) / "exports" / f"{backend}_{precision}"
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        source = target / weights.name
        shutil.copyfile(weights, source)  # ultralytics writes the export next to the weights
        exported = YOLO(str(source)).export(
            format=FORMATS[backend],
            quantize=QUANTIZE[precision],
            imgsz=spec["input_size"],
            dynamic=True,  # one export serves every benchmarked batch size
            data=data_yaml,
            split="train",
            fraction=calibration,
            device=device_arg(env["device"]),
            verbose=False,
        )
        source.unlink()
        path = Path(exported)
        model = {"backend": backend, "precision": precision, "path": str(path), "size_mb": size_mb(path)}
        emit("export", **model)
        emit("artifact", path=str(path), kind="export")
        exports.append(model)
    emit("result", exports=exports)


if __name__ == "__main__":
    run(export)
