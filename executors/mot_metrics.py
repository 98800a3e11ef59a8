"""Multi-object-tracking metrics (HOTA, DetA, AssA, MOTA, MOTP, IDF1, ID switches, …) with TrackEval.

Ground truth and predictions are MOTChallenge text files (`frame,id,x,y,w,h,conf,…`). Tracking
is evaluated class-agnostic: every box is one object. TrackEval's metric classes are used
directly on the per-frame IoU matrices, without its dataset loaders.

Frames are numbered from 1 in MOTChallenge files and from 0 by some tools: a file with a frame 0
is read as 0-based and shifted by one, so its first frame meets the other file's first frame.
Blank lines are skipped; a header or a malformed row is refused as bad data (`InvalidDataset`),
naming the file and line, instead of crashing the executor (which would be retried).

Usage: mot_metrics.py --gt gt.txt --pred pred.txt   (prints the metrics as JSON; exit 2 on a bad file)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from gf_protocol import ExecutorError  # noqa: E402

ROW_FORM = "frame,id,x,y,w,h[,conf,...] as numbers (MOTChallenge; no header)"


def parse_row(path: Path, number: int, line: str) -> list[float]:
    """frame, id, x, y, w, h and conf (when given) of one row; ExecutorError("data") naming the file and line otherwise."""
    def refuse(why: str) -> ExecutorError:
        return ExecutorError("data", f"{path} line {number}: {why}, got {line.strip()[:120]!r}")

    cells = [cell.strip() for cell in line.split(",")]
    if len(cells) < 6:
        raise refuse(f"expected {ROW_FORM}")
    try:
        fields = [float(cell) for cell in cells[:7]]
    except ValueError:
        raise refuse(f"expected {ROW_FORM}") from None
    if not all(math.isfinite(v) for v in fields):
        raise refuse("expected finite numbers")
    frame, track_id, _, _, w, h = fields[:6]
    if not frame.is_integer() or frame < 0 or not track_id.is_integer():
        raise refuse("expected a whole frame number (0 or more) and a whole id")
    if w < 0 or h < 0:
        raise refuse("expected a box width and height of 0 or more")
    return fields


def read_mot(path: Path) -> dict[int, list[tuple[int, np.ndarray]]]:
    """frame (from 1) → [(id, xywh box)], skipping ground-truth rows marked as ignored (conf 0)."""
    rows = [parse_row(path, number, line) for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1) if line.strip()]
    shift = 1 if any(fields[0] == 0 for fields in rows) else 0  # a 0-based file
    frames: dict[int, list[tuple[int, np.ndarray]]] = {}
    for fields in rows:
        if len(fields) >= 7 and fields[6] == 0:
            continue
        frames.setdefault(int(fields[0]) + shift, []).append((int(fields[1]), np.array(fields[2:6])))
    return frames


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    a1, a2 = a[:, None, :2], a[:, None, :2] + a[:, None, 2:]
    b1, b2 = b[None, :, :2], b[None, :, :2] + b[None, :, 2:]
    inter = np.clip(np.minimum(a2, b2) - np.maximum(a1, b1), 0, None).prod(axis=2)
    union = a[:, None, 2:].prod(axis=2) + b[None, :, 2:].prod(axis=2) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def sequence_data(gt: dict, pred: dict) -> dict:
    """The per-sequence structure TrackEval's metrics take (ids renumbered from 0)."""
    frames = range(1, max([*gt, *pred, 0]) + 1)
    gt_ids = {i: n for n, i in enumerate(sorted({i for rows in gt.values() for i, _ in rows}))}
    tr_ids = {i: n for n, i in enumerate(sorted({i for rows in pred.values() for i, _ in rows}))}
    data: dict = {"num_timesteps": len(frames), "num_gt_ids": len(gt_ids), "num_tracker_ids": len(tr_ids), "gt_ids": [], "tracker_ids": [], "similarity_scores": []}
    for frame in frames:
        g, p = gt.get(frame, []), pred.get(frame, [])
        data["gt_ids"].append(np.array([gt_ids[i] for i, _ in g], dtype=int))
        data["tracker_ids"].append(np.array([tr_ids[i] for i, _ in p], dtype=int))
        data["similarity_scores"].append(iou_matrix(np.array([b for _, b in g]).reshape(-1, 4), np.array([b for _, b in p]).reshape(-1, 4)))
    data["num_gt_dets"] = sum(len(x) for x in data["gt_ids"])
    data["num_tracker_dets"] = sum(len(x) for x in data["tracker_ids"])
    return data


def mot_metrics(gt_file: Path, pred_file: Path) -> dict[str, float]:
    """GuardianFlow's `mot.*` keys (docs/architecture.md §5) for one sequence."""
    from trackeval.metrics import CLEAR, HOTA, Identity

    data = sequence_data(read_mot(gt_file), read_mot(pred_file))
    config = {"PRINT_CONFIG": False, "THRESHOLD": 0.5}
    hota = HOTA(config).eval_sequence(data)
    clear = CLEAR(config).eval_sequence(data)
    identity = Identity(config).eval_sequence(data)
    return {
        "mot.hota": float(np.mean(hota["HOTA"])),
        "mot.deta": float(np.mean(hota["DetA"])),
        "mot.assa": float(np.mean(hota["AssA"])),
        "mot.mota": float(clear["MOTA"]),
        "mot.motp": float(clear["MOTP"]),
        "mot.idf1": float(identity["IDF1"]),
        "mot.id_switches": float(clear["IDSW"]),
        "mot.frag": float(clear["Frag"]),
        "mot.mt": float(clear["MT"]),
        "mot.ml": float(clear["ML"]),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gt", type=Path, required=True)
    parser.add_argument("--pred", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        print(json.dumps(mot_metrics(args.gt, args.pred)))
    except ExecutorError as err:
        print(f"mot_metrics.py: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
