"""The executor side of GuardianFlow's protocol (docs/architecture.md §7), shared by every executor.

An executor reads one JSON spec on stdin and writes JSON lines on stdout: `epoch`,
`checkpoint`, `artifact`, `progress`, `export`, `result`, and at most one `error` with a `kind`
the TypeScript activity maps to a typed failure. The kinds, the failure each becomes and the
out-of-memory texts are common/executor-protocol.json's, read by both sides. The activity checks
every event's shape (activities/gpu/protocol.ts) and stops an executor that breaks it.
Libraries print freely, so the real stdout is kept for the protocol alone and fd 1 is pointed
at stderr (the executor log).
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable

_SHARED = json.loads((Path(__file__).resolve().parent.parent / "common" / "executor-protocol.json").read_text(encoding="utf-8"))

ErrorKind = str  # one of ERROR_KINDS
ERROR_KINDS: tuple[ErrorKind, ...] = tuple(_SHARED["error_kinds"])

# matched as the TypeScript side matches them: case-insensitive, per line
OOM_PATTERNS = tuple(re.compile(pattern, re.IGNORECASE | re.MULTILINE) for pattern in _SHARED["oom_patterns"])


class ExecutorError(Exception):
    """A failure whose kind the executor knows (bad data, bad config, out of memory)."""

    def __init__(self, kind: ErrorKind, message: str):
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown error kind {kind!r}")
        super().__init__(message)
        self.kind = kind


_protocol = None


def _claim_stdout() -> None:
    """Keeps fd 1 for protocol lines and sends everything else written to it to stderr."""
    global _protocol
    if _protocol is not None:
        return
    sys.stdout.flush()
    _protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)


def emit(event: str, **fields: Any) -> None:
    """Writes one protocol event as a JSON line."""
    _claim_stdout()
    _protocol.write(json.dumps({"event": event, **fields}, allow_nan=False) + "\n")
    _protocol.flush()


def finite_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Only finite numbers: MLflow refuses NaN/inf and JSON cannot carry them."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out[key] = number
    return out


def read_spec() -> dict[str, Any]:
    """The job spec the activity wrote on stdin."""
    try:
        spec = json.load(sys.stdin)
    except json.JSONDecodeError as err:
        raise ExecutorError("config", f"the job spec on stdin is not JSON: {err}") from err
    if not isinstance(spec, dict):
        raise ExecutorError("config", "the job spec on stdin must be a JSON object")
    return spec


def watch_parent(interval_s: float = 1.0) -> None:
    """Kills this executor's process group when the worker that started it dies.

    The activity starts the executor in its own process group, so a SIGKILLed worker would
    leave it training on the GPU; the retried activity must find the slot free.
    """
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent:
                os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="gf-parent-watch", daemon=True).start()


def offline_env(config_dir: str | None = None) -> None:
    """Environment that keeps ultralytics, matplotlib and torch from any network call."""
    if config_dir:
        os.environ["YOLO_CONFIG_DIR"] = config_dir
    os.environ["YOLO_OFFLINE"] = "true"
    os.environ["YOLO_AUTOINSTALL"] = "false"
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("WANDB_MODE", "disabled")
    os.environ.setdefault("COMET_MODE", "disabled")
    opt_out_of_openvino_telemetry()


def opt_out_of_openvino_telemetry() -> None:
    """OpenVINO and NNCF send telemetry unless `~/intel/openvino_telemetry` says 0 (their opt-out file)."""
    consent = Path.home() / "intel" / "openvino_telemetry"
    try:
        if not consent.is_file() or consent.read_text().strip() != "0":
            consent.parent.mkdir(parents=True, exist_ok=True)
            consent.write_text("0\n")
    except OSError as err:
        print(f"warning: cannot write the OpenVINO telemetry opt-out {consent}: {err}", file=sys.stderr)


def disable_ultralytics_integrations() -> None:
    """Turns off ultralytics' hub sync and every logger callback (MLflow would double-log)."""
    from ultralytics.utils import SETTINGS

    switches = ("sync", "hub", "mlflow", "clearml", "comet", "dvc", "neptune", "raytune", "tensorboard", "wandb", "vscode_msg", "openvino_msg")
    SETTINGS.update({key: False for key in switches if key in SETTINGS})


# terminal control sequences (colours, cursor moves) that ultralytics and tqdm write
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


def plain_text(text: str) -> str:
    """A message as plain text: no colour codes, and of a carriage-return progress line only what was left on screen."""
    lines = (line.rstrip("\r").rsplit("\r", 1)[-1] for line in _ANSI.sub("", text).split("\n"))
    return "\n".join(line.rstrip() for line in lines).strip()


def bounded(message: str, limit: int = 4000) -> str:
    """A message within the protocol's limit: its first line (what failed) and as many of its last lines as fit."""
    if len(message) <= limit:
        return message
    first, _, rest = message.partition("\n")
    first = first[: limit // 2]
    tail = rest[-(limit - len(first) - 3) :]
    whole_lines = tail.partition("\n")[2] or tail  # the cut-off line is dropped
    return f"{first}\n…\n{whole_lines}"


def is_out_of_memory_text(text: str) -> bool:
    """True when a message or traceback is an out-of-memory error (GPU or host)."""
    return any(pattern.search(text) for pattern in OOM_PATTERNS)


def classify(err: BaseException) -> ErrorKind:
    """The protocol kind of an exception: the one place executors decide it."""
    if isinstance(err, ExecutorError):
        return err.kind
    if isinstance(err, MemoryError):  # host RAM (numpy's _ArrayMemoryError too): a smaller batch may fit, a retry would not
        return "oom"
    if is_out_of_memory_text(f"{type(err).__name__}: {err}"):
        return "oom"
    return "internal"


def run(main: Callable[[dict[str, Any]], None]) -> None:
    """Runs an executor: claims stdout, reads the spec, reports any failure as one error event."""
    _claim_stdout()
    watch_parent()
    try:
        main(read_spec())
    except BaseException as err:  # noqa: BLE001 - every failure must reach the activity typed
        if isinstance(err, SystemExit) and not err.code:
            raise
        traceback.print_exc(file=sys.stderr)
        emit("error", kind=classify(err), message=bounded(plain_text(f"{type(err).__name__}: {err}")))
        sys.exit(1)
