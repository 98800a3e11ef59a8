"""Renders one results chart (PNG) of a sweep or comparison from a JSON spec, offline (Agg, bundled fonts).

Usage: charts.py SPEC.json OUT.png
Spec kinds:
  trials   {title, metric, goal, trials: [{index, value|null, status, stopped_early}], best_index|null}
  scatter  {title, x_label, y_label, points: [{label, x, y}], best_label|null}
  heatmap  {title, rows, columns, values: [[value|null]], row_label, column_label}
A bad spec exits with code 2 and names the field.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BEST, NORMAL, STOPPED, FAILED = "#d62728", "#1f77b4", "#ff7f0e", "#7f7f7f"


class SpecError(ValueError):
    pass


def need(spec: dict, field: str, kind: type):
    if not isinstance(spec.get(field), kind):
        raise SpecError(f"{field}: expected {kind.__name__}, got {type(spec.get(field)).__name__}")
    return spec[field]


def trials_chart(ax, spec: dict) -> None:
    trials = need(spec, "trials", list)
    best = spec.get("best_index")
    groups: dict[str, tuple[list, list]] = {"trial": ([], []), "stopped early": ([], []), "best": ([], []), "failed": ([], [])}
    for t in trials:
        value = t.get("value")
        group = "failed" if t.get("status") == "FAILED" or value is None else "best" if t["index"] == best else "stopped early" if t.get("stopped_early") else "trial"
        groups[group][0].append(t["index"])
        groups[group][1].append(0 if value is None else value)
    for (label, (xs, ys)), color in zip(groups.items(), (NORMAL, STOPPED, BEST, FAILED)):
        if not xs:
            continue
        if label == "failed":
            ax.scatter(xs, ys, marker="x", color=color, label=label)
        else:
            ax.bar(xs, ys, color=color, label=label, width=0.8 if len(trials) < 100 else 1.0)
    if groups["best"][0]:
        ax.annotate(f"best {groups['best'][1][0]:.4f}", (groups["best"][0][0], groups["best"][1][0]), ha="center", va="bottom")
    ax.set_xlabel("trial (sweep.index)")
    ax.set_ylabel(f"{need(spec, 'metric', str)} ({spec.get('goal', 'maximize')})")


def scatter_chart(ax, spec: dict) -> None:
    best = spec.get("best_label")
    for p in need(spec, "points", list):
        is_best = p["label"] == best
        ax.scatter(p["x"], p["y"], s=80 if is_best else 40, color=BEST if is_best else NORMAL, label="best" if is_best else "run")
        ax.annotate(p["label"], (p["x"], p["y"]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel(need(spec, "x_label", str))
    ax.set_ylabel(need(spec, "y_label", str))


def heatmap_chart(ax, spec: dict) -> None:
    rows, columns, values = need(spec, "rows", list), need(spec, "columns", list), need(spec, "values", list)
    if len(values) != len(rows) or any(len(r) != len(columns) for r in values):
        raise SpecError("values: expected one row per row label and one value per column label")
    masked = [[float("nan") if v is None else v for v in r] for r in values]
    image = ax.imshow(masked, cmap="viridis", aspect="auto")
    ax.figure.colorbar(image, ax=ax)
    ax.set_xticks(range(len(columns)), labels=columns, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), labels=rows)
    for i, r in enumerate(values):
        for j, v in enumerate(r):
            ax.text(j, i, "—" if v is None else f"{v:.3f}", ha="center", va="center", color="white")
    ax.set_xlabel(spec.get("column_label", ""))
    ax.set_ylabel(spec.get("row_label", ""))


KINDS = {"trials": trials_chart, "scatter": scatter_chart, "heatmap": heatmap_chart}


def render(spec: dict, out: Path) -> None:
    draw = KINDS.get(spec.get("kind"))
    if draw is None:
        raise SpecError(f"kind: expected one of {', '.join(KINDS)}, got {spec.get('kind')!r}")
    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    try:
        draw(ax, spec)
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        if unique:
            ax.legend(unique.values(), unique.keys())
        ax.set_title(spec.get("title", ""))
        fig.tight_layout()
        fig.savefig(out, format="png")
    finally:
        plt.close(fig)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        render(json.loads(Path(argv[0]).read_text()), Path(argv[1]))
    except (SpecError, KeyError, TypeError) as err:
        print(f"charts.py: bad spec: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
