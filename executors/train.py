"""Trains a YOLO detector with ultralytics and reports it over the executor protocol.

The spec (JSON on stdin) is written by activities/gpu/train-activity.ts: run_dir, model,
dataset, classes, training, augmentation (ultralytics' own argument names), environment,
resume_from, yolo_config_dir, plots. Per-epoch
metrics go out as `epoch` events under GuardianFlow's keys (docs/architecture.md §5), each saved
`last.pt` as a `checkpoint` event so a retried activity can resume from it. On a GPU, the mean
utilisation while training (NVML, executors/gpu_monitor.py) is a final metric, `sys.gpu_util_pct`;
on the CPU it is absent.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import preflight  # noqa: E402
from gf_protocol import ExecutorError, disable_ultralytics_integrations, emit, finite_metrics, offline_env, run  # noqa: E402
from gpu_monitor import GpuMonitor  # noqa: E402

# ultralytics' metric names → GuardianFlow's (MLflow refuses the parentheses).
METRIC_KEYS = {
    "metrics/precision(B)": "det.precision",
    "metrics/recall(B)": "det.recall",
    "metrics/mAP50(B)": "det.mAP50",
    "metrics/mAP50-95(B)": "det.mAP50_95",
    "val/box_loss": "det.val_box_loss",
    "val/cls_loss": "det.val_cls_loss",
    "val/dfl_loss": "det.val_dfl_loss",
    "train/box_loss": "det.box_loss",
    "train/cls_loss": "det.cls_loss",
    "train/dfl_loss": "det.dfl_loss",
}

# training-block fields passed to ultralytics under the same names (learning_rate is its lr0)
SCHEDULE_KEYS = ("lrf", "cos_lr", "warmup_epochs", "weight_decay", "momentum")


def rename(metrics: dict[str, Any]) -> dict[str, float]:
    """GuardianFlow keys for ultralytics metrics; learning rates become train.lr_pgN."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if key in METRIC_KEYS:
            out[METRIC_KEYS[key]] = value
        elif key.startswith("lr/"):
            out["train.lr_" + key[3:]] = value
    out = finite_metrics(out)
    p, r = out.get("det.precision"), out.get("det.recall")
    if p is not None and r is not None:
        out["det.f1"] = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return out


def build_model(model_spec: dict[str, Any], resume_from: str | None):
    """The model to train: the resumed checkpoint, or a fresh one from its config (no download)."""
    from ultralytics import YOLO

    if resume_from:
        return YOLO(resume_from)
    architecture = model_spec["architecture"]
    if architecture.endswith(".pt") and not Path(architecture).is_file():
        raise ExecutorError("config", f"model.architecture: {architecture} is not a local file (nothing is downloaded)")
    try:
        model = YOLO(architecture)
    except FileNotFoundError as err:
        raise ExecutorError("config", f"model.architecture: {architecture} is not a known ultralytics model config") from err
    weights = model_spec.get("weights")
    if weights:  # preflight.train checked that it exists and loads
        model.load(weights)
    return model


def device_arg(device: str) -> str | None:
    return None if device == "auto" else device


def finished_checkpoint(path: str, torch: Any) -> bool:
    """A checkpoint of a training that had finished its epochs (its host died in the final validation):
    ultralytics refuses to resume it, and there is nothing left to train."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    epochs = (ckpt.get("train_args") or {}).get("epochs")
    epoch = ckpt.get("epoch", -1)
    return epoch == -1 or ckpt.get("optimizer") is None or (epochs is not None and epoch + 1 >= epochs)


def validate_finished(spec: dict[str, Any], run_dir: Path) -> None:
    """The end of a training whose epochs all ran elsewhere (each already recorded): the final
    validation of its last weights, which stand in for best.pt (the best epoch's file died with the host)."""
    import shutil

    from ultralytics import YOLO

    training, env = spec["training"], spec["environment"]
    weights = run_dir / "train" / "weights"
    weights.mkdir(parents=True, exist_ok=True)
    for name in ("last.pt", "best.pt"):
        shutil.copyfile(spec["resume_from"], weights / name)
    model = YOLO(str(weights / "best.pt"))
    results = model.val(
        data=spec["dataset"]["path"],
        imgsz=spec["model"]["input_size"],
        batch=training["batch_size"],
        device=device_arg(env["device"]),
        workers=env["workers"],
        project=str(run_dir),
        name="val",
        exist_ok=True,
        plots=False,
        verbose=False,
    )
    for name in ("best.pt", "last.pt"):
        emit("artifact", path=str(weights / name), kind="weights")
    final = rename(results.results_dict)
    for i, class_index in enumerate(results.ap_class_index):
        final[f"det.ap50.{results.names[int(class_index)]}"] = float(results.box.ap50[i])
    final["sys.model_size_mb"] = (weights / "best.pt").stat().st_size / 1e6
    emit("result", epochs_completed=training["epochs"], batch_size=training["batch_size"], metrics=finite_metrics(final))


def train(spec: dict[str, Any]) -> None:
    offline_env(spec.get("yolo_config_dir"))
    disable_ultralytics_integrations()
    preflight.train(spec)

    import torch

    training, env = spec["training"], spec["environment"]
    run_dir = Path(spec["run_dir"])
    if spec.get("resume_from") and finished_checkpoint(spec["resume_from"], torch):
        return validate_finished(spec, run_dir)
    model = build_model(spec["model"], spec.get("resume_from"))
    reported: set[int] = set()
    last_epoch: dict[str, float] = {}

    def on_fit_epoch_end(trainer) -> None:
        epoch = trainer.epoch + 1
        if epoch in reported or epoch > trainer.epochs:  # it fires once more after the final validation
            return
        reported.add(epoch)
        metrics = {**trainer.label_loss_items(trainer.tloss, prefix="train"), **trainer.metrics, **trainer.lr}
        values = rename(metrics)
        if getattr(trainer, "epoch_time", None):
            values["sys.epoch_time_s"] = float(trainer.epoch_time)
        last_epoch.clear()
        last_epoch.update(values)
        emit("epoch", epoch=epoch, epochs=trainer.epochs, metrics=values)

    def on_model_save(trainer) -> None:
        if Path(trainer.last).is_file():
            emit("checkpoint", path=str(trainer.last), epoch=trainer.epoch + 1)

    model.add_callback("on_fit_epoch_end", on_fit_epoch_end)
    model.add_callback("on_model_save", on_model_save)

    on_gpu = env["device"] != "cpu" and torch.cuda.is_available()
    args: dict[str, Any] = {
        "data": spec["dataset"]["path"],
        "epochs": training["epochs"],
        "batch": training["batch_size"],
        "imgsz": spec["model"]["input_size"],
        "lr0": training["learning_rate"],
        "optimizer": training["optimizer"],
        "patience": training["patience"],
        "seed": env["seed"],
        "deterministic": True,
        "workers": env["workers"],
        "device": device_arg(env["device"]),
        "amp": on_gpu and env["precision"] == "fp16",
        "plots": bool(spec.get("plots", training.get("plots", True))),
        "project": str(run_dir),
        "name": "train",
        "exist_ok": True,
        "verbose": False,
    }
    # the schedule and augmentation knobs the scenario sets (scenarios/schema.ts bounds them as
    # ultralytics' cfg check does); the rest keep ultralytics' defaults, all shown in its args.yaml
    args.update({key: training[key] for key in SCHEDULE_KEYS if training.get(key) is not None})
    args.update({key: value for key, value in (spec.get("augmentation") or {}).items() if value is not None})
    if spec.get("resume_from"):
        # a checkpoint uploaded by another host names that host's paths (its file, its run folder):
        # resume from this host's copy (`resume=<path>`, not True) and write into this host's folder
        args["save_dir"] = str(run_dir / "train")
    gpu = GpuMonitor(env["device"] if on_gpu else "cpu")
    with gpu.sampling():
        results = model.train(resume=spec["resume_from"], **args) if spec.get("resume_from") else model.train(**args)
    trainer = model.trainer
    save_dir = Path(trainer.save_dir)

    for weights in (save_dir / "weights" / "best.pt", save_dir / "weights" / "last.pt"):
        if weights.is_file():
            emit("artifact", path=str(weights), kind="weights")
    if (save_dir / "results.csv").is_file():
        emit("artifact", path=str(save_dir / "results.csv"), kind="table")
    for plot in sorted(save_dir.glob("*.png")):
        emit("artifact", path=str(plot), kind="plot")

    # The final validation (of best.pt) reports no losses and no learning rates: the last epoch's
    # values stand in for them, so every key an epoch logs is also a final metric a sweep can rank.
    final = {**last_epoch, **rename({**trainer.label_loss_items(trainer.tloss, prefix="train"), **trainer.metrics})}
    names = results.names if results is not None else {}
    if results is not None:
        for i, class_index in enumerate(results.ap_class_index):
            final[f"det.ap50.{names[int(class_index)]}"] = float(results.box.ap50[i])
    best = save_dir / "weights" / "best.pt"
    if best.is_file():
        final["sys.model_size_mb"] = best.stat().st_size / 1e6
    final["sys.model_params_m"] = sum(p.numel() for p in model.model.parameters()) / 1e6
    final.update(gpu.utilisation())
    emit(
        "result",
        epochs_completed=trainer.epoch + 1,
        batch_size=int(trainer.batch_size),
        metrics=finite_metrics(final),
    )


if __name__ == "__main__":
    run(train)
