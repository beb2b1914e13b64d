"""The safety suite (``sim.suite``) as a benchmark for a driving row: which cases to run, one run of a
case, and the table (scenario x row) of ``drivestack eval suite``.

A case is one scenario at one parameter point with one seed (``SuiteCase``). Which parameter points
(``SWEEPS``):

- ``full``: the protocol's test matrix, ``ScenarioDef.grid()`` (every combination of the sweeps);
- ``short`` (the default): per parameter, the first, middle and last value of its sweep, combined in
  every way (CCRs: ego 10 / 45 / 80 km/h x overlap 100 / 50 / -75 %), 96 cases over the 16 straight-track
  scenarios where the full matrix has 273, and 45 over the 4 junction ones (their full matrix: the same 45);
- ``defaults``: each parameter's default, one point per scenario;
- ``drawn``: held-out cases off the sweep points: per scenario ``seeds_per_scenario`` cases, each parameter drawn
  uniformly over its allowed range (``sim.suite.sampling.draw_params``, a fixed generator: the same cases in every
  run), in worlds from ``DRAWN_SEED0`` (the test range: training draws its suite worlds below 800,000, a run's
  validation cases ``control.suite_validation`` from 800,000), so a gain at the sweep points can be checked on
  cases nobody tuned on.

The junction cases (family ``junction``, ``sim.suite.junctions``) play in a navigation town and are
driven with the route block in the observation (layout v2, ``SUITE_NAV``): only the rule-based rows
read it, so the learned rows skip them (``drives``; their cells have no cases).

``values`` (``--param NAME=V1,V2``) replaces one parameter's values for every scenario that takes it.
Bad input (an unknown scenario or family, a parameter no chosen scenario takes, a value outside a
scenario's range, no seeds) raises ``common.errors.ConfigError``, one line naming what exists.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from common.errors import ConfigError

from .evaluate import ROWS, SUITE, SUITE_NAV, run_episode
from .features import LAYOUT_ID
from .route_features import LAYOUT_V2_ID

SWEEPS = ("short", "full", "defaults", "drawn")
DRAWN_SEED0 = 900_000  # the drawn cases' worlds (``control.envs.TEST_SEED0``)
_DRAWN_GENERATOR = 0x7E57  # the drawn cases' parameters: the same in every run
DRAWN_PER_SCENARIO_MAX = 1000  # each scenario's block of worlds
INFRACTIONS = ("off_route", "red_light", "failed_to_yield", "blocked_junction")  # the junction cases' (``sim.suite.outcome``)


@dataclass(frozen=True)
class SuiteCase:
    """One run of the suite: a scenario, its parameter point and the scene seed."""

    scenario: str
    params: tuple[tuple[str, float], ...]  # (name, value) of every parameter the scenario takes
    seed: int

    def options(self) -> dict:
        """The suite env's reset options that play this case."""
        return {"scenario": self.scenario, "params": dict(self.params)}

    @property
    def env_kind(self) -> str:
        """``control.evaluate.SUITE``, or ``SUITE_NAV`` for a junction case (the route block in the observation)."""
        from sim.suite import JUNCTION_SCENARIOS

        return SUITE_NAV if self.scenario in JUNCTION_SCENARIOS else SUITE

    def label(self) -> str:
        """A file-name-safe name: ``CPNA-25_ego_kmh40_seed0``."""
        return "_".join([self.scenario, *(f"{k}{v:g}" for k, v in self.params), f"seed{self.seed}"])


def select_scenarios(spec: str | None) -> list[str]:
    """Scenario names from a comma-separated list of names or families (None or "all": every one),
    in the catalog's order."""
    from sim.suite import SCENARIOS

    if spec is None or spec.strip() in ("", "all"):
        return list(SCENARIOS)
    families = sorted({d.family for d in SCENARIOS.values()})
    wanted = set()
    for item in (s.strip() for s in spec.split(",")):
        if item in SCENARIOS:
            wanted.add(item)
        elif item in families:
            wanted |= {n for n, d in SCENARIOS.items() if d.family == item}
        elif item:
            raise ConfigError(f"--scenarios: unknown scenario or family {item!r}; scenarios: {', '.join(SCENARIOS)}; "
                              f"families: {', '.join(families)}")
    if not wanted:
        raise ConfigError(f"--scenarios {spec!r} names none; scenarios: {', '.join(SCENARIOS)}")
    return [n for n in SCENARIOS if n in wanted]


def parse_values(items: list[str], scenarios: list[str]) -> dict[str, tuple[float, ...]]:
    """``["ego_kmh=30,40"]`` -> ``{"ego_kmh": (30.0, 40.0)}``, each value checked against the range of
    every chosen scenario that takes the parameter."""
    from sim.suite import SCENARIOS

    taken = {p.name: p for n in scenarios for p in SCENARIOS[n].params}
    out: dict[str, tuple[float, ...]] = {}
    for item in items:
        name, _, text = item.partition("=")
        name = name.strip()
        if name not in taken:
            raise ConfigError(f"--param {item!r}: no chosen scenario takes {name!r}; they take {', '.join(sorted(taken))}")
        try:
            values = tuple(float(v) for v in text.split(",") if v.strip())
        except ValueError:
            values = ()
        if not values:
            raise ConfigError(f"--param {item!r} is not allowed; use NAME=V1[,V2...] with numbers, e.g. ego_kmh=30,40")
        for n in scenarios:
            p = next((q for q in SCENARIOS[n].params if q.name == name), None)
            bad = [v for v in values if p is not None and not p.lo <= v <= p.hi]
            if bad:
                raise ConfigError(f"--param {name}={bad[0]:g} is outside what {n} supports; use {p.allowed()}")
        out[name] = values
    return out


def sweep_values(values: tuple[float, ...], sweep: str, default: float) -> tuple[float, ...]:
    """The values of one parameter a ``sweep`` tries (``SWEEPS``), from the protocol's ``values``."""
    if sweep == "full":
        return tuple(values)
    if sweep == "defaults":
        return (default,)
    if sweep == "short":
        picks = (values[0], values[len(values) // 2], values[-1])
        return tuple(dict.fromkeys(picks))  # ends and middle, in sweep order, once each
    raise ConfigError(f"--sweep {sweep!r} is not allowed; choose one of {', '.join(SWEEPS)}")


def suite_cases(scenarios: list[str], sweep: str = "short", seeds_per_scenario: int = 1,
                values: dict[str, tuple[float, ...]] | None = None) -> list[SuiteCase]:
    """Every case: each scenario x each parameter point of ``sweep`` x seeds 0..seeds_per_scenario-1 (``drawn``:
    that many drawn cases per scenario, see the module's doc)."""
    from sim.suite import SCENARIOS

    if seeds_per_scenario < 1:
        raise ConfigError(f"--seeds-per-scenario {seeds_per_scenario} is not allowed; use 1 or more")
    values = values or {}
    if sweep == "drawn":
        if values:
            raise ConfigError(f"--param {', '.join(values)} is not allowed with --sweep drawn (its parameters are drawn); "
                              "use --sweep short, full or defaults")
        if seeds_per_scenario > DRAWN_PER_SCENARIO_MAX:
            raise ConfigError(f"--seeds-per-scenario {seeds_per_scenario} is not allowed with --sweep drawn; use 1 to "
                              f"{DRAWN_PER_SCENARIO_MAX}")
        return _drawn_cases(scenarios, seeds_per_scenario)
    cases = []
    for name in scenarios:
        params = SCENARIOS[name].params
        axes = [values.get(p.name) or sweep_values(p.sweep, sweep, p.default) for p in params]
        for point in itertools.product(*axes):
            for seed in range(seeds_per_scenario):
                cases.append(SuiteCase(name, tuple((p.name, float(v)) for p, v in zip(params, point)), seed))
    return cases


def _drawn_cases(scenarios: list[str], per_scenario: int) -> list[SuiteCase]:
    """``per_scenario`` drawn cases of each scenario; a scenario's draws and worlds do not depend on which other
    scenarios are chosen (one generator and one block of worlds per scenario, in the catalog's order)."""
    from sim.suite import SCENARIOS
    from sim.suite.sampling import draw_params

    cases = []
    for name in scenarios:
        k = list(SCENARIOS).index(name)
        rng = np.random.default_rng([_DRAWN_GENERATOR, k])
        for j in range(per_scenario):
            cases.append(SuiteCase(name, tuple(draw_params(name, rng).items()), DRAWN_SEED0 + DRAWN_PER_SCENARIO_MAX * k + j))
    return cases


def drives(row: str, case: SuiteCase, ppo_layout: str = LAYOUT_ID) -> bool:
    """Whether ``row`` can drive ``case``: the junction cases need a driver that reads the route (the
    rule-based rows, and the ppo rows when their policy reads layout v2: ``ppo_layout``)."""
    kind = ROWS[row][0]
    return case.env_kind == SUITE or kind == "rule-based" or (kind == "ppo" and ppo_layout == LAYOUT_V2_ID)


# --- one run ------------------------------------------------------------------------------------------


def run_case(env, policy, case: SuiteCase, on_step=None) -> dict:
    """Drive ``case`` in a ``control.envs.make_suite_env`` env; its record: the suite's outcome
    (``info["suite"]`` of the last step: passed, what was hit, impact speed, closest gap and TTC) and
    the drive's (end, steps, mean speed, supervisor interventions and when the first came)."""
    last: dict = {}

    def step(obs, action, info):
        last["suite"] = info["suite"]
        if on_step is not None:
            on_step(obs, action, info)

    m, _ = run_episode(env, policy, case.seed, step, case.options())
    s = last["suite"]
    interventions = getattr(policy, "interventions", None)
    dt_s = env.unwrapped.dt_s
    return {
        "scenario": case.scenario, "params": dict(case.params), "seed": case.seed, "case": case.label(),
        "passed": bool(s["passed"]), "collision": s["collision"],
        "impact_speed_kmh": _round(s["impact_speed_kmh"], 2), "impact_time_s": _round(s["impact_time_s"], 2),
        "planned_impact_s": _round(s["planned_impact_s"], 2),
        "min_gap_m": _round(s["min_gap_m"], 3), "min_ttc_s": _round(s["min_ttc_s"], 2),
        "off_road": bool(s["off_road"]), "goal": bool(s["goal"]), "end": m["end"], "steps": m["steps"],
        # the junction cases' infractions, each failing the case (always False on the straight track)
        **{k: bool(s[k]) for k in INFRACTIONS},
        "duration_s": m["duration_s"], "mean_speed_kmh": m["mean_speed_kmh"],
        "supervised": interventions is not None,
        "interventions": m["interventions"],
        # the time of the observation the supervisor first overrode the policy on [s]
        "first_intervention_s": round(interventions[0].step * dt_s, 2) if interventions else None,
    }


def _round(value, digits: int):
    """JSON-safe: None for None or a non-finite value (an infinite gap or TTC: never close)."""
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


# --- the table ----------------------------------------------------------------------------------------


def summarize_cases(records: list[dict]) -> dict:
    """One cell of the table: pass rate, collisions, impact speed where there was one, interventions, and the
    cases with a junction infraction (``INFRACTIONS``)."""
    impacts = [r["impact_speed_kmh"] for r in records if r["collision"] is not None]
    supervised = any(r["supervised"] for r in records)
    return {
        "cases": len(records),
        "passed": sum(r["passed"] for r in records),
        "pass_rate": round(sum(r["passed"] for r in records) / len(records), 4) if records else None,
        "collisions": len(impacts),
        "impact_kmh_mean": round(float(np.mean(impacts)), 1) if impacts else None,
        "impact_kmh_max": round(float(np.max(impacts)), 1) if impacts else None,
        "interventions": sum(r["interventions"] for r in records) if supervised else None,
        "cases_with_intervention": sum(r["interventions"] > 0 for r in records) if supervised else None,
        # cases with a junction infraction (each fails the case; none on the straight track)
        "infractions": sum(any(r.get(k) for k in INFRACTIONS) for r in records),
    }


def suite_table(records: list[dict], rows: list[str], scenarios: list[str]) -> tuple[dict, dict]:
    """``({scenario: {row: cell}}, {row: cell over every case})`` from records carrying ``row``."""
    table = {n: {row: summarize_cases([r for r in records if r["scenario"] == n and r["row"] == row]) for row in rows}
             for n in scenarios}
    totals = {row: summarize_cases([r for r in records if r["row"] == row]) for row in rows}
    return table, totals
