"""Multi-object-tracking metrics (HOTA, DetA, AssA, MOTA, MOTP, IDF1, ID switches, …) with TrackEval.

Ground truth and predictions are MOTChallenge text files (`frame,id,x,y,w,h,conf,…`). Tracking
is evaluated class-agnostic: every box is one object. TrackEval's metric classes are used
directly on the per-frame IoU matrices, without its dataset loaders.

Usage: mot_metrics.py --gt gt.txt --pred pred.txt   (prints the metrics as JSON)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def read_mot(path: Path) -> dict[int, list[tuple[int, np.ndarray]]]:
    """frame → [(id, xywh box)], skipping ground-truth rows marked as ignored (conf 0)."""
    frames: dict[int, list[tuple[int, np.ndarray]]] = {}
    text = path.read_text().strip()
    for line in text.splitlines() if text else []:
        fields = [float(v) for v in line.split(",")[:7]]
        if len(fields) >= 7 and fields[6] == 0:
            continue
        frames.setdefault(int(fields[0]), []).append((int(fields[1]), np.array(fields[2:6])))
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
    """GuardianFlow's `mot.*` keys (DESIGN §3) for one sequence."""
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
    print(json.dumps(mot_metrics(args.gt, args.pred)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
