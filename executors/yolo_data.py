"""YOLO data.yaml reading shared by the executors (the checks on it are preflight.py's)."""

from __future__ import annotations

from pathlib import Path

from gf_protocol import ExecutorError

IMAGE_SUFFIXES = {".bmp", ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"}


def read_data_yaml(data_yaml: str) -> dict:
    """The parsed data.yaml; a missing or unparsable file is kind `data`."""
    import yaml

    path = Path(data_yaml)
    if not path.is_file():
        raise ExecutorError("data", f"dataset.path: {data_yaml} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise ExecutorError("data", f"dataset.path: {data_yaml} cannot be read: {err}") from err
    except yaml.YAMLError as err:
        raise ExecutorError("data", f"dataset.path: {data_yaml} is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ExecutorError("data", f"dataset.path: {data_yaml} must be a mapping with train, val and names")
    return data


def split_paths(data_yaml: str, split: str) -> list[Path]:
    """The folders or list files of one split, resolved as ultralytics resolves them."""
    data = read_data_yaml(data_yaml)
    root = Path(data.get("path") or Path(data_yaml).parent)
    if not root.is_absolute():
        root = Path(data_yaml).parent / root
    entry = data.get(split)
    if not entry:
        raise ExecutorError("data", f"dataset.path: {data_yaml} has no '{split}' entry")
    return [root / item for item in (entry if isinstance(entry, list) else [entry])]


def split_images(data_yaml: str, split: str) -> list[Path]:
    """The image files of one split (folders only; list files are read line by line)."""
    images: list[Path] = []
    for path in split_paths(data_yaml, split):
        if path.is_dir():
            images += sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
            # ultralytics reads `./` entries relative to the list file
            images += [path.parent / line[2:] if line.startswith("./") else Path(line) for line in lines]
    return images

