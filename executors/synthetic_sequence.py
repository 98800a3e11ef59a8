"""Generates a short MOTChallenge sequence of coloured shapes moving across the frame.

The shapes look like synthetic_dataset.py's classes, so a model trained on that dataset can
track them. Writes OUT/img1/000001.jpg… and OUT/gt/gt.txt (frame,id,x,y,w,h,1,class+1,1);
the same seed gives the same sequence. Prints the absolute OUT path and nothing else.

Usage: synthetic_sequence.py OUT [--frames N] [--size PX] [--objects K] [--seed S] [--classes a,b,c]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from synthetic_dataset import background, draw_shape  # noqa: E402


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--objects", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--classes", default="helmet,vest,harness")
    args = parser.parse_args(argv)
    classes = [c for c in args.classes.split(",") if c]
    if args.frames < 1 or args.objects < 1 or args.size < 32 or not classes:
        parser.error("need --frames >= 1, --objects >= 1, --size >= 32 and at least one class")

    from PIL import ImageDraw

    rng = random.Random(args.seed)
    out = args.out.resolve()
    (out / "img1").mkdir(parents=True, exist_ok=True)
    (out / "gt").mkdir(parents=True, exist_ok=True)
    objects = []
    for track_id in range(1, args.objects + 1):
        w, h = rng.randint(args.size // 5, args.size // 3), rng.randint(args.size // 5, args.size // 3)
        objects.append({
            "id": track_id, "cls": rng.randrange(len(classes)), "w": w, "h": h,
            "x": rng.uniform(0, args.size - w), "y": rng.uniform(0, args.size - h),
            "dx": rng.choice([-1, 1]) * rng.uniform(0.5, 2), "dy": rng.choice([-1, 1]) * rng.uniform(0.5, 2),
        })
    frame_rng = random.Random(args.seed + 1)
    lines = []
    for frame in range(1, args.frames + 1):
        image = background(frame_rng, args.size)
        draw = ImageDraw.Draw(image)
        for o in objects:
            x, y = int(round(o["x"])), int(round(o["y"]))
            draw_shape(draw, o["cls"], x, y, o["w"], o["h"])
            lines.append(f"{frame},{o['id']},{x},{y},{o['w']},{o['h']},1,{o['cls'] + 1},1")
            for axis, step, extent in (("x", "dx", o["w"]), ("y", "dy", o["h"])):
                o[axis] += o[step]
                if not 0 <= o[axis] <= args.size - extent:
                    o[step] = -o[step]
                    o[axis] = min(max(o[axis], 0), args.size - extent)
        image.save(out / "img1" / f"{frame:06d}.jpg", quality=95)
    (out / "gt" / "gt.txt").write_text("\n".join(lines) + "\n")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
