"""Renders one results chart (PNG) of a sweep or comparison from a JSON spec.

The reports activity calls this because matplotlib already lives on the Python side; it runs
offline (Agg backend, matplotlib's bundled DejaVu fonts) and, when MPLCONFIGDIR is not given,
keeps matplotlib's cache in a temporary folder so nothing is written to $HOME.

Usage: charts.py --request-on-stdin [--warm-up]
Loads matplotlib, then reads one request line from stdin, {"spec": SPEC, "out": "OUT.png"}, and
prints `done` once OUT.png is written. A worker starts it ahead of its next chart
(activities/reports/chart.ts), so Python's start-up is not paid while a report waits; started
ahead, it also draws a throw-away chart first (`--warm-up`). End of input without a request: exit 0.
Spec kinds:
  trials   {title, metric, goal, trials: [{index, value|null, status, stopped_early}], best_index|null}
  scatter  {title, x_label, y_label, points: [{label, x, y}], best_label|null}
  heatmap  {title, rows, columns, values: [[value|null]], row_label, column_label}
  timeline {title, lanes: [{label, jobs: [{start, end, outcome}]}]}  (GPU slots' busy/idle, seconds)
A bad spec exits with code 2 and a message naming the field (e.g. `trials[3].value: expected number`).
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

BEST, NORMAL, STOPPED, FAILED, BLANK = "#d62728", "#1f77b4", "#ff7f0e", "#7f7f7f", "#bbbbbb"
STATUSES = ("FINISHED", "FAILED", "KILLED", "RUNNING")
MANY_TRIALS = 60  # above this, bars get too thin to read: trials are drawn as dots
FAILED_GROUP = "failed / no value"
GROUP_COLORS = {"trial": NORMAL, "stopped early": STOPPED, "best": BEST, FAILED_GROUP: FAILED}
OUTCOME_COLORS = {"completed": NORMAL, "failed": BEST, "cancelled": STOPPED, "timed_out": FAILED, "running": "#2ca02c"}


class SpecError(ValueError):
    """A spec field is missing or has the wrong type; the message starts with the field's path."""


def field(obj: dict, name: str, path: str, check, expected: str) -> Any:
    value = obj.get(name)
    if not check(value):
        shown = "missing" if name not in obj else f"got {json.dumps(value)[:60]}"
        raise SpecError(f"{path}{name}: expected {expected}, {shown}")
    return value


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def text(obj: dict, name: str, path: str = "") -> str:
    return field(obj, name, path, lambda v: isinstance(v, str), "string")


def number(obj: dict, name: str, path: str = "", nullable: bool = False) -> float | None:
    return field(obj, name, path, lambda v: is_number(v) or (nullable and v is None), "number or null" if nullable else "number")


def items(obj: dict, name: str) -> list[tuple[str, dict]]:
    """A list of objects, each with its path prefix for error messages (`trials[3].`)."""
    values = field(obj, name, "", lambda v: isinstance(v, list), "list")
    for i, item in enumerate(values):
        if not isinstance(item, dict):
            raise SpecError(f"{name}[{i}]: expected object, got {json.dumps(item)[:60]}")
    return [(f"{name}[{i}].", item) for i, item in enumerate(values)]


def no_data(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color=FAILED)


def trial_group(trial: dict, best: int | None) -> str:
    """Failed (or never-valued) trials sit as crosses on the baseline; the rest are bars or dots."""
    if trial["value"] is None or (trial["status"] != "FINISHED" and not trial["stopped_early"]):
        return FAILED_GROUP
    if trial["index"] == best:
        return "best"
    return "stopped early" if trial["stopped_early"] else "trial"


def read_trials(spec: dict) -> list[dict]:
    trials = []
    for path, t in items(spec, "trials"):
        trials.append({
            "index": field(t, "index", path, is_int, "integer"),
            "value": number(t, "value", path, nullable=True),
            "status": field(t, "status", path, lambda v: v in STATUSES, f"one of {', '.join(STATUSES)}"),
            "stopped_early": field(t, "stopped_early", path, lambda v: isinstance(v, bool), "true or false"),
        })
    return trials


def draw_group(ax, label: str, members: list[dict], many: bool) -> None:
    xs, ys, color = [t["index"] for t in members], [t["value"] for t in members], GROUP_COLORS[label]
    if label == FAILED_GROUP:
        ax.scatter(xs, [0] * len(xs), marker="x", color=color, label=label, zorder=3, clip_on=False)
    elif many:
        is_best = label == "best"
        ax.scatter(xs, ys, color=color, label=label, s=160 if is_best else 10, marker="*" if is_best else "o", zorder=4 if is_best else 2)
    else:
        ax.bar(xs, ys, color=color, label=label, width=0.8)


def trials_chart(ax, spec: dict) -> None:
    metric, goal = text(spec, "metric"), field(spec, "goal", "", lambda v: v in ("maximize", "minimize"), "maximize or minimize")
    best = field(spec, "best_index", "", lambda v: v is None or is_int(v), "integer or null")
    trials = read_trials(spec)
    groups: dict[str, list[dict]] = {label: [] for label in GROUP_COLORS}
    for t in trials:
        groups[trial_group(t, best)].append(t)
    for label, members in groups.items():
        if members:
            draw_group(ax, label, members, many=len(trials) > MANY_TRIALS)
    for t in groups["best"]:
        ax.annotate(f"best #{t['index']}: {t['value']:.4g}", (t["index"], t["value"]), xytext=(0, 8), textcoords="offset points", ha="center", color=BEST, bbox={"facecolor": "white", "edgecolor": BEST, "alpha": 0.9}, zorder=5)
    if not trials:
        no_data(ax, "no trials")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.margins(y=0.15)
    ax.set_xlabel("trial (sweep.index)")
    ax.set_ylabel(f"{metric} ({'higher' if goal == 'maximize' else 'lower'} is better)")


def scatter_chart(ax, spec: dict) -> None:
    best = field(spec, "best_label", "", lambda v: v is None or isinstance(v, str), "string or null")
    ax.set_xlabel(text(spec, "x_label"))
    ax.set_ylabel(text(spec, "y_label"))
    points = [(text(p, "label", path), number(p, "x", path), number(p, "y", path)) for path, p in items(spec, "points")]
    for label, x, y in points:
        is_best = label == best
        ax.scatter(x, y, s=120 if is_best else 40, marker="*" if is_best else "o", color=BEST if is_best else NORMAL, label="best" if is_best else "run", zorder=3)
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8, color=BEST if is_best else "black")
    if not points:
        no_data(ax, "no runs with both values")
    ax.margins(0.15)
    ax.grid(True, alpha=0.3)


def read_matrix(spec: dict) -> tuple[list[str], list[str], list[list[float | None]]]:
    rows = field(spec, "rows", "", lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v), "list of strings")
    columns = field(spec, "columns", "", lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v), "list of strings")
    values = field(spec, "values", "", lambda v: isinstance(v, list) and len(v) == len(rows), f"list of {len(rows)} rows (one per row label)")
    for i, row in enumerate(values):
        if not (isinstance(row, list) and len(row) == len(columns) and all(v is None or is_number(v) for v in row)):
            raise SpecError(f"values[{i}]: expected {len(columns)} numbers or nulls (one per column label)")
    return rows, columns, values


def heatmap_chart(ax, spec: dict) -> None:
    from matplotlib.patches import Rectangle

    rows, columns, values = read_matrix(spec)
    ax.set_xlabel(text(spec, "column_label"))
    ax.set_ylabel(text(spec, "row_label"))
    if not rows or not columns:
        no_data(ax, "no runs")
        return
    image = ax.imshow([[math.nan if v is None else v for v in row] for row in values], cmap="viridis", aspect="auto")
    ax.figure.colorbar(image, ax=ax)
    ax.set_xticks(range(len(columns)), labels=columns, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), labels=rows)
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            if v is None:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", edgecolor=BLANK, linewidth=0))
            else:
                ax.text(j, i, f"{v:.3f}", ha="center", va="center", color="black" if image.norm(v) > 0.6 else "white")


def read_lanes(spec: dict) -> list[tuple[str, list[tuple[float, float, str]]]]:
    lanes = []
    for path, lane in items(spec, "lanes"):
        label = text(lane, "label", path)
        jobs = []
        for i, job in enumerate(field(lane, "jobs", path, lambda v: isinstance(v, list), "list")):
            where = f"{path}jobs[{i}]."
            if not isinstance(job, dict):
                raise SpecError(f"{where[:-1]}: expected object, got {json.dumps(job)[:60]}")
            start, end = number(job, "start", where), number(job, "end", where)
            if end < start:
                raise SpecError(f"{where}end: expected a number >= start ({start}), got {end}")
            jobs.append((start, end, field(job, "outcome", where, lambda v: v in OUTCOME_COLORS, f"one of {', '.join(OUTCOME_COLORS)}")))
        lanes.append((label, jobs))
    return lanes


def timeline_chart(ax, spec: dict) -> None:
    """One row per GPU slot: a bar while a job ran (coloured by how it ended), blank while idle."""
    lanes = read_lanes(spec)
    for row, (_, jobs) in enumerate(lanes):
        for outcome, color in OUTCOME_COLORS.items():
            spans = [(start, end - start) for start, end, o in jobs if o == outcome]
            if spans:
                ax.broken_barh(spans, (row - 0.4, 0.8), facecolors=color, edgecolor="none", label=outcome)
    if not lanes:
        no_data(ax, "no GPU jobs")
    else:
        ax.set_yticks(range(len(lanes)), labels=[label for label, _ in lanes])
        ax.set_ylim(len(lanes) - 0.5, -0.5)
    ax.set_xlabel("seconds since the first GPU job started")
    ax.set_ylabel("GPU slot (host #slot)")
    ax.grid(True, axis="x", alpha=0.3)


KINDS = {"trials": trials_chart, "scatter": scatter_chart, "heatmap": heatmap_chart, "timeline": timeline_chart}


def pyplot():
    """matplotlib's pyplot on the Agg backend; its import is most of a chart's time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def render(spec: Any, out: Path) -> None:
    plt = pyplot()
    if not isinstance(spec, dict):
        raise SpecError("spec: expected JSON object")
    draw = field(spec, "kind", "", lambda v: v in KINDS, f"one of {', '.join(KINDS)}")
    title = text(spec, "title")
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=100)
    try:
        KINDS[draw](ax, spec)
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        if unique:
            ax.legend(unique.values(), unique.keys(), loc="best", fontsize=8)
        ax.set_title(title)
        fig.tight_layout()
        fig.savefig(out, format="png")
    finally:
        plt.close(fig)


def warm_up() -> None:
    """Draws a throw-away chart with text: the font and the Agg renderer load before the request comes."""
    import io

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(2, 2), dpi=50)
    ax.set_title("warm-up")
    ax.plot([0, 1], [0, 1], label="warm-up")
    ax.legend()
    fig.tight_layout()
    fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)


def run_request(warm: bool) -> int:
    if warm:
        warm_up()
    else:
        pyplot()
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    try:
        request = json.loads(line)
    except ValueError as err:
        print(f"charts.py: bad request on stdin: {err}", file=sys.stderr)
        return 2
    if not isinstance(request, dict) or not isinstance(request.get("out"), str) or "spec" not in request:
        print('charts.py: bad request on stdin: expected {"spec": ..., "out": "file.png"}', file=sys.stderr)
        return 2
    code = run_spec(request["spec"], request["out"])
    if code == 0:
        # the chart is written: the worker need not wait for the interpreter's shut-down (~0.2 s)
        print("done", flush=True)
    return code


def run_spec(spec: Any, out: str) -> int:
    try:
        render(spec, Path(out))
    except SpecError as err:
        print(f"charts.py: bad spec: {err}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str]) -> int:
    if argv not in (["--request-on-stdin"], ["--request-on-stdin", "--warm-up"]):
        print(__doc__, file=sys.stderr)
        return 2
    warm = "--warm-up" in argv
    if os.environ.get("MPLCONFIGDIR"):
        return run_request(warm)
    with tempfile.TemporaryDirectory(prefix="charts-mpl-") as config_dir:
        os.environ["MPLCONFIGDIR"] = config_dir
        return run_request(warm)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
