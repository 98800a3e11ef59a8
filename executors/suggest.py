"""Suggests the parameters of a model-based (`tpe`) sweep's next trials with Optuna's TPE sampler.

Stateless on purpose (docs/architecture.md, sweep): Optuna's own storages assume one process
owns a trial from ask to tell, while a Temporal sweep outlives processes and retries activities.
So the workflow keeps the finished trials, and each call rebuilds an in-memory study from them,
asks `count` trials and forgets it. The sampler's seed mixes the sweep's seed with the index of
the first trial asked for, so the same input gives the same suggestions (a retried activity
returns what the first attempt did) and two asks never share a random stream.

Usage: suggest.py < REQUEST.json > SUGGESTIONS.json
Request:  {space: {name: {type: categorical, choices} | {type: int|float, low, high, log, step?}},
           seed, first_index, goal: maximize|minimize, count,
           trials: [{params, value: number|null, state: complete|pruned|fail|running}]}
Answer:   {suggestions: [{name: value}]}  (count of them, in order)
A bad request exits with code 2 and a message naming the field.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from typing import Any

import warnings

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

STATES = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "fail": TrialState.FAIL, "running": TrialState.RUNNING}


class RequestError(ValueError):
    """A request field is missing or has the wrong shape; the message starts with its path."""


def need(ok: bool, message: str) -> None:
    if not ok:
        raise RequestError(message)


def distribution(name: str, entry: Any) -> BaseDistribution:
    need(isinstance(entry, dict), f"space.{name}: expected an object")
    kind = entry.get("type")
    if kind == "categorical":
        need(isinstance(entry.get("choices"), list) and len(entry["choices"]) > 0, f"space.{name}.choices: expected a non-empty list")
        return CategoricalDistribution(entry["choices"])
    need(kind in ("int", "float"), f"space.{name}.type: expected categorical, int or float, got {json.dumps(kind)}")
    try:
        if kind == "int":
            return IntDistribution(int(entry["low"]), int(entry["high"]), log=bool(entry.get("log", False)), step=int(entry.get("step") or 1))
        return FloatDistribution(float(entry["low"]), float(entry["high"]), log=bool(entry.get("log", False)), step=entry.get("step"))
    except (KeyError, TypeError, ValueError) as err:
        raise RequestError(f"space.{name}: {err}") from err


def sampler_seed(seed: int, first_index: int) -> int:
    """A 32-bit seed (what numpy's RandomState takes) from the whole sweep seed (up to 2^53) and the asked index."""
    return int(np.random.SeedSequence([seed % 2**32, seed // 2**32, first_index]).generate_state(1)[0])


def frozen(i: int, trial: Any, space: dict[str, BaseDistribution]) -> optuna.trial.FrozenTrial:
    need(isinstance(trial, dict), f"trials[{i}]: expected an object")
    state = STATES.get(trial.get("state"))
    need(state is not None, f"trials[{i}].state: expected one of {', '.join(STATES)}, got {json.dumps(trial.get('state'))}")
    params = trial.get("params")
    need(isinstance(params, dict) and set(params) == set(space), f"trials[{i}].params: expected exactly the parameters {sorted(space)}")
    value = trial.get("value")
    if state == TrialState.COMPLETE:
        need(isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value), f"trials[{i}].value: expected a finite number for a complete trial")
    # Optuna holds a value for complete trials only; a pruned trial's last value is its intermediate value
    intermediate = {0: float(value)} if state == TrialState.PRUNED and isinstance(value, (int, float)) else None
    try:
        return optuna.trial.create_trial(
            state=state,
            params=params,
            distributions=space,
            value=float(value) if state == TrialState.COMPLETE else None,
            intermediate_values=intermediate,
        )
    except ValueError as err:
        raise RequestError(f"trials[{i}]: {err}") from err


def suggest(request: Any) -> list[dict[str, Any]]:
    need(isinstance(request, dict), "request: expected an object")
    need(isinstance(request.get("space"), dict) and len(request["space"]) > 0, "space: expected a non-empty object")
    space = {name: distribution(name, entry) for name, entry in request["space"].items()}
    seed, first, count = request.get("seed"), request.get("first_index"), request.get("count")
    need(isinstance(seed, int) and seed >= 0, "seed: expected an integer >= 0")
    need(isinstance(first, int) and first >= 0, "first_index: expected an integer >= 0")
    need(isinstance(count, int) and count >= 1, "count: expected an integer >= 1")
    need(request.get("goal") in ("maximize", "minimize"), "goal: expected maximize or minimize")
    need(isinstance(request.get("trials"), list), "trials: expected a list")

    sampler = optuna.samplers.TPESampler(seed=sampler_seed(seed, first), multivariate=True, constant_liar=True)
    study = optuna.create_study(direction=request["goal"], sampler=sampler)
    study.add_trials([frozen(i, t, space) for i, t in enumerate(request["trials"])])
    suggestions = []
    for _ in range(count):
        # asked trials stay RUNNING: constant_liar keeps the next ask away from them
        trial = study.ask(space)
        suggestions.append({name: trial.params[name] for name in space})
    return suggestions


def main() -> int:
    optuna.logging.set_verbosity(logging.WARNING)
    # multivariate TPE is marked experimental; the warning says nothing the caller can act on
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    try:
        answer = {"suggestions": suggest(json.load(sys.stdin))}
    except json.JSONDecodeError as err:
        print(f"request: not JSON: {err}", file=sys.stderr)
        return 2
    except RequestError as err:
        print(str(err), file=sys.stderr)
        return 2
    json.dump(answer, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
