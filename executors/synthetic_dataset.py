"""Generates a small YOLO detection dataset of coloured shapes, for demos and tests.

Each class is drawn as its own shape and colour on a noisy background, with exact YOLO
labels, so a tiny model can learn something in a few CPU epochs. The same seed always gives
the same dataset. Prints the absolute path of the written data.yaml and nothing else.

Usage: synthetic_dataset.py OUT [--train N] [--val N] [--size PX] [--seed S] [--classes a,b,c]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

SHAPES = ("ellipse", "rectangle", "triangle")
COLOURS = ((230, 60, 50), (40, 170, 60), (50, 90, 220), (230, 200, 40), (170, 60, 200), (40, 200, 210))


def background(rng: random.Random, size: int):
    from PIL import Image

    return Image.new("RGB", (size, size), tuple(rng.randint(90, 150) for _ in range(3)))


def draw_shape(draw, cls: int, x0: int, y0: int, w: int, h: int) -> None:
    """Class `cls` as its own shape and colour in the box (x0, y0, w, h)."""
    box = (x0, y0, x0 + w - 1, y0 + h - 1)
    colour = COLOURS[cls % len(COLOURS)]
    shape = SHAPES[cls % len(SHAPES)]
    if shape == "ellipse":
        draw.ellipse(box, fill=colour)
    elif shape == "rectangle":
        draw.rectangle(box, fill=colour)
    else:
        draw.polygon([(x0, y0 + h - 1), (x0 + w - 1, y0 + h - 1), (x0 + w // 2, y0)], fill=colour)


def draw_image(rng: random.Random, size: int, class_count: int):
    """One image and its YOLO label lines (class cx cy w h, normalised)."""
    from PIL import ImageDraw

    image = background(rng, size)
    draw = ImageDraw.Draw(image)
    labels = []
    for _ in range(rng.randint(1, 3)):
        cls = rng.randrange(class_count)
        w = rng.randint(size // 5, size // 2)
        h = rng.randint(size // 5, size // 2)
        x0 = rng.randint(0, size - w)
        y0 = rng.randint(0, size - h)
        draw_shape(draw, cls, x0, y0, w, h)
        labels.append(f"{cls} {(x0 + w / 2) / size:.6f} {(y0 + h / 2) / size:.6f} {w / size:.6f} {h / size:.6f}")
    return image, labels


def write_split(root: Path, split: str, count: int, size: int, classes: list[str], rng: random.Random) -> None:
    images, labels = root / "images" / split, root / "labels" / split
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image, lines = draw_image(rng, size, len(classes))
        image.save(images / f"{split}_{i:05d}.png")
        (labels / f"{split}_{i:05d}.txt").write_text("\n".join(lines) + "\n")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--train", type=int, default=64)
    parser.add_argument("--val", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--classes", default="helmet,vest,harness")
    args = parser.parse_args(argv)
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    if not classes or args.train < 1 or args.val < 1 or args.size < 32:
        parser.error("need at least one class, one train and one val image, and --size >= 32")

    import yaml

    root = args.out.resolve()
    rng = random.Random(args.seed)
    write_split(root, "train", args.train, args.size, classes, rng)
    write_split(root, "val", args.val, args.size, classes, rng)
    data_yaml = root / "data.yaml"
    data_yaml.write_text(yaml.safe_dump({"path": str(root), "train": "images/train", "val": "images/val", "names": classes}, sort_keys=False))
    print(data_yaml)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
