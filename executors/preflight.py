"""Checks of a job's dataset and model before any GPU time (docs/architecture.md §8).

Broken labels or a corrupt weights file used to surface deep inside ultralytics, after the model
was built and the dataloaders started, as an `ExecutorCrashed` retried three times with a
traceback for a message. These checks read the files first and fail with kind `data`
(InvalidDataset) or `model` (InvalidModel), neither retried, naming the first few bad files and
lines, so the user can fix them in one pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gf_protocol import ExecutorError, plain_text
from yolo_data import IMAGE_SUFFIXES, read_data_yaml, split_images, split_paths

# enough to see the pattern of a bad export or a labelling tool's habit, short enough to read
MAX_REPORTED = 5
LABEL_FORMAT = "class x_center y_center width height"


def train(spec: dict[str, Any]) -> None:
    """A training's data, and its starting weights when it has any.

    Starting weights are only required to load: fine-tuning from a model with other classes is
    what transfer learning is (ultralytics keeps the layers whose shapes match).
    """
    dataset(spec["dataset"]["path"], spec["classes"])
    if spec["model"].get("weights"):
        model(spec["model"]["weights"], None, "model.weights")


def benchmark(spec: dict[str, Any]) -> None:
    """A benchmark's data and model: the model must detect the task's classes."""
    dataset(spec["dataset"]["path"], spec["classes"])
    model(spec["model_path"], spec["classes"], "model")


def export(spec: dict[str, Any]) -> None:
    """An export's calibration data and weights: the weights must detect the task's classes."""
    dataset(spec["dataset"]["path"], spec["classes"])
    model(spec["weights"], spec["classes"], "quantization source")


def dataset(data_yaml: str, classes: list[str]) -> None:
    """Fails with kind `data` unless data.yaml, its splits' images and their labels can be trained on."""
    data = read_data_yaml(data_yaml)
    names = data.get("names")
    names = list(names.values()) if isinstance(names, dict) else names
    if names != classes:
        raise ExecutorError("data", f"dataset.path: {data_yaml} has classes {names}, the scenario's task.classes are {classes}")
    if "nc" in data and data["nc"] != len(names):
        raise ExecutorError("data", f"dataset.path: {data_yaml} says nc: {data['nc']} but names {len(names)} classes")
    for split in ("train", "val"):
        for path in split_paths(data_yaml, split):
            if not path.exists():
                raise ExecutorError("data", f"dataset.path: {data_yaml}: {split} images {path} do not exist")
        images = split_images(data_yaml, split)
        if not images:
            folders = ", ".join(str(p) for p in split_paths(data_yaml, split))
            raise ExecutorError("data", f"dataset.path: {data_yaml}: {split} images {folders} hold no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        _check_labels(data_yaml, split, images, len(names))


def _check_labels(data_yaml: str, split: str, images: list[Path], nc: int) -> None:
    """Every label line of a split in YOLO's detection format; the first few bad ones named."""
    from ultralytics.data.utils import img2label_paths  # where ultralytics itself looks for them

    root = Path(data_yaml).resolve().parent
    found, bad_lines, bad_files, shown = 0, 0, 0, []
    for label in (Path(p) for p in img2label_paths([str(i) for i in images])):
        if not label.is_file():
            continue  # an image without labels is a background image
        found += 1
        problems = _file_problems(label, nc)
        if not problems:
            continue
        bad_files += 1
        bad_lines += len(problems)
        name = label.resolve().relative_to(root) if label.resolve().is_relative_to(root) else label
        shown += [f"  {name}:{where}: {what}" for where, what in problems][: MAX_REPORTED - len(shown)]
    if found == 0:
        raise ExecutorError("data", f"dataset.path: {data_yaml}: none of the {len(images)} {split} images has a label file (labels/… next to images/…)")
    if bad_lines:
        head = f"dataset.path: {data_yaml}: {bad_lines} bad label line(s) in {bad_files} {split} file(s); expected '{LABEL_FORMAT}', class ids 0..{nc - 1}, coordinates in [0, 1]"
        more = [f"  … and {bad_lines - len(shown)} more"] if bad_lines > len(shown) else []
        raise ExecutorError("data", "\n".join([head, *shown, *more]))


def _file_problems(label: Path, nc: int) -> list[tuple[str, str]]:
    """(line number, problem) for each bad line of one label file; an unreadable file is one problem."""
    try:
        lines = label.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        return [("0", f"cannot be read ({err})")]
    return [(str(n), problem) for n, line in enumerate(lines, 1) if line.strip() and (problem := _line_problem(line.split(), nc))]


def _line_problem(fields: list[str], nc: int) -> str | None:
    """What is wrong with one label line's fields, or None."""
    if len(fields) != 5:
        return f"{len(fields)} values, expected 5 ({LABEL_FORMAT})"
    try:
        values = [float(f) for f in fields]
    except ValueError:
        return f"not numbers: {' '.join(fields)}"
    if not values[0].is_integer() or not 0 <= values[0] < nc:
        return f"class id {fields[0]} is not one of 0..{nc - 1}"
    outside = [f for f, v in zip(fields[1:], values[1:]) if not 0 <= v <= 1]
    return f"coordinate {outside[0]} outside [0, 1]" if outside else None


def model(path: str, classes: list[str] | None, field: str) -> None:
    """Fails with kind `model` unless the model loads and (when `classes` is given) detects exactly those classes.

    Loaded on the CPU as the benchmark and export will load it (ultralytics' AutoBackend), so a
    truncated download or a file of another kind is refused here. A TensorRT engine only loads on
    its GPU and is left to the job itself.
    """
    target = Path(path)
    if not target.exists():
        raise ExecutorError("config", f"{field}: {path} does not exist (nothing is downloaded)")
    if target.suffix == ".engine":
        return
    import torch
    from ultralytics.nn.autobackend import AutoBackend

    try:
        loaded = AutoBackend(str(target), device=torch.device("cpu"), fuse=False, verbose=False)
    except Exception as err:  # noqa: BLE001 - whatever the loader trips on, the file is the problem
        said = (plain_text(str(err)).splitlines() or [""])[0]  # the rest is ultralytics' advice to download its models
        raise ExecutorError("model", f"{field}: {path} cannot be loaded as a YOLO model: {type(err).__name__}: {said}") from err
    names = loaded.names
    names = [names[i] for i in sorted(names)] if isinstance(names, dict) else list(names)
    if classes is not None and names != classes:
        raise ExecutorError("model", f"{field}: {path} detects classes {names}, the scenario's task.classes are {classes}")
