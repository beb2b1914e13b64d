"""Running a policy through episodes and scoring them (``drivestack eval policy`` and training's
best-model selection)."""

from __future__ import annotations

from typing import Callable

from common.cores import share_cores
from common.units import UnitsMap, in_order, local_units

from .metrics import EpisodeLog, episode_metrics, summarize
from .policies import Policy


def run_episode(env, policy: Policy, seed: int, on_step: Callable | None = None,
                options: dict | None = None) -> tuple[dict, EpisodeLog]:
    """One episode on scene ``seed`` (``options``: the env's reset options, e.g. a suite scenario);
    ``on_step(obs, action, info)`` is called after each step."""
    obs, info = env.reset(seed=seed, options=options)
    policy.reset()
    log = EpisodeLog(dt_s=env.unwrapped.dt_s)
    while True:
        action = policy.act(obs, info.get("perception"))  # the frame behind obs: the supervisor reads all of it
        obs, _, terminated, truncated, info = env.step(action)
        log.add(info, float(env.unwrapped.world.ego.speed_m_s), action, terminated, truncated)
        if on_step is not None:
            on_step(obs, action, info)
        if terminated or truncated:
            break
    interventions = getattr(policy, "interventions", ())
    log.interventions = sum(getattr(i, "stage", "") != "warning" for i in interventions)  # overrides (warnings leave the action)
    log.red_light_holds = sum(i.reason.startswith("red light") for i in interventions)
    log.aeb_activations = dict(getattr(policy, "activations", {}))
    m = episode_metrics(log)
    m["seed"] = seed
    m["route_length_m"] = float(env.unwrapped.world.params.route_length_m)  # requested (the planned route may differ a little)
    return m, log


def evaluate(env, policy: Policy, seeds, progress: bool = False, desc: str = "") -> dict:
    """Episodes on each seed; ``{"summary": ..., "episodes": [...]}``."""
    from tqdm import tqdm

    episodes = []
    for seed in tqdm(list(seeds), desc=desc or policy.name, unit="episode", disable=not progress, leave=False):
        m, _ = run_episode(env, policy, int(seed))
        episodes.append(m)
    return {"summary": summarize(episodes), "episodes": episodes}


# --- the comparison table -------------------------------------------------------------------------
# row name -> (policy, perception source); "labels" rows read exact labels with the camera off, "noisy-labels" rows the
# labels degraded by the models' measured errors (``perception.ground_truth.PerceptionNoise``, seeded per route: what
# ``train policy`` trains and validates on), camera off too; "model-noise" rows the same errors correlated in time as
# the models' are, with their track speeds, sure range and light confusion (``PerceptionNoise.named("models")``)
ROWS = {
    "ppo/labels": ("ppo", "labels"),
    "ppo/models": ("ppo", "models"),
    "rule-based/labels": ("rule-based", "labels"),
    "rule-based/models": ("rule-based", "models"),
    "pixels/camera": ("pixels", "camera"),
    "ppo/noisy-labels": ("ppo", "noisy-labels"),
    "rule-based/noisy-labels": ("rule-based", "noisy-labels"),
    "ppo/model-noise": ("ppo", "model-noise"),
    "rule-based/model-noise": ("rule-based", "model-noise"),
}
NOISE_OF_SOURCE = {"noisy-labels": "measured", "model-noise": "models"}  # PerceptionNoise.named's profile
DEFAULT_SOURCES = ("labels", "models", "camera")  # the rows driven when none are named
SUITE = "suite"  # in place of a scenario kind: the safety suite's env (its case comes with each reset)
SUITE_NAV = "suite-nav"  # ... with the route block in the observation (layout v2): the suite's junction cases
_CACHE: dict = {}  # per process: (row, options) -> (env, policy)


def row_objects(row: str, scenario: str, route_length_m: float, policy_path: str | None, pixels_path: str | None,
                supervisor: bool, device: str, interleave: bool = False, overrides: tuple[str, ...] = (),
                joint: str | None = None, pair: tuple[str, str] | None = None, backend: str = "auto"):
    """The ``(env, policy)`` that drive row ``row`` (built once per process and kept): the row's policy
    (inside the ``SafetySupervisor`` when ``supervisor``) reading the row's perception source, in a world
    of kind ``scenario`` (``SUITE``: the safety suite's env, ``control.envs.make_suite_env``; ``SUITE_NAV``: the
    same with the route block, layout v2, for its junction cases, which only the rule-based rows can drive).
    ``overrides``: ``key.sub_key=value`` env config fields (``--set``) for the route worlds, not the suite's.
    ``joint``: the models rows see through one joint network (``drivestack train joint``) instead of the pair;
    ``pair``: (detector, multi-task network) weights for them instead of the shipped ones; ``backend``: the
    networks' runtime (``perception.model_files.BACKENDS``)."""
    key = (row, scenario, route_length_m, policy_path, pixels_path, supervisor, device, interleave, overrides, joint, pair,
           backend)
    if key in _CACHE:
        return _CACHE[key]
    from common.config import apply_overrides

    from perception.ground_truth import PerceptionNoise

    from .envs import env_config, make_env, make_suite_env
    from .policies import PolicyError, RuleBasedPolicy, layout_mismatch, load_policy
    from .features import LAYOUT_ID
    from .route_features import LAYOUT_V2_ID
    from .supervisor import SafetySupervisor

    kind, source = ROWS[row]
    if scenario == SUITE_NAV and kind == "pixels":
        raise ValueError(f"row {row}: the pixels baseline reads no route and cannot drive the suite's junction cases")
    if kind == "pixels":
        from .pixels import PixelObservation, make_pixel_env

        policy = load_policy(pixels_path, device=device)
        env = (PixelObservation(make_suite_env(render_camera=True, dense_labels=False)) if scenario == SUITE
               else make_pixel_env(scenario, route_length_m, overrides=overrides))
    else:
        perception = None
        if source == "models":
            from perception.pipeline import Perception

            pkey = ("perception", device, interleave, joint, pair, backend)  # one per process, whatever the route length
            if pkey not in _CACHE:
                _CACHE[pkey] = (Perception.from_files(joint=joint, device=device, backend=backend) if joint
                                else Perception.from_files(*(pair or ()), device=device, interleave=interleave,
                                                           backend=backend))
            perception = _CACHE[pkey]
        policy = load_policy(policy_path, device=device) if kind == "ppo" else RuleBasedPolicy()
        mismatch = layout_mismatch(policy, scenario) if kind == "ppo" else None
        if mismatch:
            raise PolicyError(f"row {row}: {mismatch}")
        # the policy's layout (a v2 policy in a straight world: its follow-the-lane route block), else the world's
        layout = policy.layout if kind == "ppo" else (LAYOUT_V2_ID if scenario == SUITE_NAV else None)
        noise = PerceptionNoise.named(NOISE_OF_SOURCE[source]) if source in NOISE_OF_SOURCE else None  # reseeded per route
        if scenario in (SUITE, SUITE_NAV):
            env = make_suite_env(perception, layout=layout or LAYOUT_ID, noise=noise)
        else:
            config = apply_overrides(env_config(scenario, route_length_m, perception is not None), list(overrides))
            env = make_env(scenario, route_length_m, perception=perception, config=config, layout=layout, noise=noise)
    if supervisor:
        policy = SafetySupervisor(policy)
    _CACHE[key] = (env, policy)
    return env, policy


def _episode_task(task: tuple) -> dict:
    row, seed, *options = task
    env, policy = row_objects(row, *options)
    m, _ = run_episode(env, policy, int(seed))
    m["row"] = row
    return m


def run_tasks(task_fn: Callable, tasks: list, workers: int = 1, progress: bool = True, desc: str = "",
              unit: str = "episode", units_map: UnitsMap | None = None) -> list:
    """``task_fn`` over ``tasks`` (results in task order), in ``workers`` spawned processes when more than one
    (each builds its rows' objects once: ``row_objects`` caches them per process), or through ``units_map``
    (a cluster's, ``drivestack.cluster``) when given; the progress bar counts finished tasks."""
    from tqdm import tqdm

    bar = tqdm(total=len(tasks), desc=desc, unit=unit, disable=not progress)
    if units_map is not None:
        results = in_order(units_map(task_fn, tasks), len(tasks), lambda _: bar.update(1))
    else:
        with local_units(workers, share_cores) as units:
            results = in_order(units(task_fn, tasks), len(tasks), lambda _: bar.update(1))
    bar.close()
    return results


ROUTE_LENGTH_STEP_M = 250.0  # per-seed route lengths are drawn on this grid, so a worker builds a few envs, not one per seed


def route_lengths_m(seeds, route_length_m: float | tuple[float, float]) -> list[float]:
    """Each seed's route length [m]: ``route_length_m`` itself, or for a ``(lo, hi)`` range one drawn per seed,
    uniform on the ``ROUTE_LENGTH_STEP_M`` grid from ``lo`` to ``hi`` (seeded by the seed alone, so a seed drives
    the same route whatever else is in the run)."""
    import numpy as np

    if not isinstance(route_length_m, tuple):
        return [float(route_length_m)] * len(seeds)
    lo, hi = route_length_m
    steps = int((hi - lo) // ROUTE_LENGTH_STEP_M)
    return [lo + ROUTE_LENGTH_STEP_M * int(np.random.default_rng([int(s), 0x726F757465]).integers(0, steps + 1))
            for s in seeds]


def compare(rows, seeds, scenario: str = "town", route_length_m: float | tuple[float, float] = 500.0,
            policy_path: str | None = None,
            pixels_path: str | None = None, supervisor: bool = True, device: str = "auto", workers: int = 1,
            progress: bool = True, interleave: bool = False, units_map: UnitsMap | None = None,
            overrides: tuple[str, ...] = (), joint: str | None = None, pair: tuple[str, str] | None = None,
            backend: str = "auto") -> dict:
    """The same seeds for every row; ``{"rows": {row: summary}, "episodes": [...]}`` plus the perception gap.
    ``interleave``: the models rows run the two networks in turns (``Perception(interleave=True)``);
    ``units_map``: run the episodes (one unit each) there instead of ``workers`` local processes;
    ``overrides``: env config fields for every row's world (``key.sub_key=value``, as ``--set``);
    ``route_length_m``: one length [m] for every seed, or a ``(lo, hi)`` range (``route_lengths_m``);
    ``joint``: the models rows run one joint network (its weights' path) instead of the pair; ``pair``: the
    (detector, multi-task network) weights they run instead of the shipped ones; ``backend``: their runtime."""
    options = (None if policy_path is None else str(policy_path), None if pixels_path is None else str(pixels_path),
               supervisor, device, interleave, tuple(overrides), None if joint is None else str(joint),
               None if pair is None else tuple(str(p) for p in pair), backend)
    lengths = dict(zip(seeds, route_lengths_m(seeds, route_length_m)))
    tasks = [(row, seed, scenario, lengths[seed], *options) for row in rows for seed in seeds]
    episodes = run_tasks(_episode_task, tasks, workers, progress, f"eval policy ({scenario})", units_map=units_map)
    table = {row: summarize([e for e in episodes if e["row"] == row]) for row in rows}
    gap = {}
    for kind in ("ppo", "rule-based"):
        a, b = table.get(f"{kind}/labels"), table.get(f"{kind}/models")
        if a and b:
            gap[kind] = {k: round(b[k] - a[k], 4) for k in ("success_rate", "route_completion", "driving_score")}
            gap[kind]["collisions_per_km"] = (round(b["collisions_per_km"] - a["collisions_per_km"], 3)
                                              if a["collisions_per_km"] is not None and b["collisions_per_km"] is not None else None)
    return {"scenario": scenario, "seeds": list(seeds),
            "route_length_m": list(route_length_m) if isinstance(route_length_m, tuple) else route_length_m,
            "supervisor": supervisor,
            "interleave": interleave, "joint": None if joint is None else str(joint),
            "pair": None if pair is None else [str(p) for p in pair], "backend": backend,
            "overrides": list(overrides), "rows": table, "perception_gap": gap, "episodes": episodes}
