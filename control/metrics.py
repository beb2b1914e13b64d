"""Driving metrics of an episode and of a set of episodes.

The per-episode record follows MetaDrive's success / crash / out-of-road rates and the CARLA
leaderboard's driving score: route completion times one multiplicative penalty per
infraction. Rates are per km driven; comfort is the mean absolute longitudinal jerk.

Penalties (``PENALTY``; CARLA leaderboard 2.0's coefficients where it has the infraction):

==================  =====  ===================================================================
event               factor where from
==================  =====  ===================================================================
pedestrian          0.50   CARLA: collision with a pedestrian
vehicle             0.60   CARLA: collision with a vehicle
static              0.65   CARLA: collision with the layout (props, poles, parked objects)
red_light           0.70   CARLA: running a red light
stop_sign           0.80   CARLA: stop infraction (crossing a stop sign's line without stopping)
scenario_timeout    0.70   CARLA: the agent blocked a scenario past its time limit
failed_to_yield     0.70   ours, CARLA's value for not yielding (to an emergency vehicle): taking
                           a permitted left or a stop-sign turn in front of a vehicle with priority
blocked_junction    0.80   ours, as a stop infraction: entering a junction with no room to leave it
min_speed           0.7 +  CARLA: per measured section, 0.7 + 0.3 x (ego mean speed / the
                    0.3 r  surrounding traffic's), for r < 1 (event value ``min_speed_ratio``)
==================  =====  ===================================================================

Driving against the traffic (``wrong_lane``) is scored as CARLA scores driving outside the route's
lanes: the route completion counted for the score shrinks by the share of the distance driven so.
Leaving the route (``off_route``, a wrong turn) ends the episode, as CARLA's route deviation does:
the score is the completion up to there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# CARLA leaderboard infraction penalties (multiplicative), per event
PENALTY = {"pedestrian": 0.5, "vehicle": 0.6, "static": 0.65, "red_light": 0.7, "stop_sign": 0.8,
           "scenario_timeout": 0.7, "failed_to_yield": 0.7, "blocked_junction": 0.8}
COLLISION_KINDS = ("vehicle", "pedestrian", "static")
# step events counted like a red light: one penalty factor each (the env's info["events"] keys)
COUNTED_INFRACTIONS = ("red_light", "stop_sign", "scenario_timeout", "failed_to_yield", "blocked_junction")
# the supervisor's AEB stages (control.aeb.STAGES) -> the metric counting how often it entered each: an
# activation, not a step (a full brake held for a second is one full brake), so that the false alarms of
# a supervisor read as events per km
AEB_METRICS = {"warning": "warnings", "partial": "partial_brakes", "full": "full_brakes"}


def min_speed_penalty(ratio: float) -> float:
    """CARLA leaderboard 2.0's factor for a section driven at ``ratio`` of the surrounding traffic's speed."""
    return 0.7 + 0.3 * min(max(float(ratio), 0.0), 1.0)


@dataclass
class EpisodeLog:
    """What happened each step, appended by the driving loop."""

    dt_s: float
    events: list[dict] = field(default_factory=list)  # the env's info["events"]
    speed_m_s: list[float] = field(default_factory=list)
    actions: list[tuple[float, float]] = field(default_factory=list)
    interventions: int = 0  # supervisor overrides (steps)
    red_light_holds: int = 0  # ... of them, steps it kept the car behind a red light's line
    aeb_activations: dict[str, int] = field(default_factory=dict)  # AEB stage -> times entered (control.aeb.STAGES)
    route_completion: float = 0.0  # fraction of the route done, last step
    end: str = "running"  # goal | collision (kind) | off road | time limit

    def add(self, info: dict, speed_m_s: float, action, terminated: bool, truncated: bool) -> None:
        ev = info["events"]
        self.events.append(ev)
        self.speed_m_s.append(float(speed_m_s))
        self.actions.append((float(action[0]), float(action[1])))
        self.route_completion = float(info.get("route_completion", self.route_completion))
        if terminated or truncated:
            if ev.get("collision"):
                self.end = f"collision ({ev['collision']})"
            elif ev.get("off_road"):
                self.end = "off road"
            elif ev.get("off_route"):
                self.end = "off route"
            elif ev.get("goal"):
                self.end = "goal"
            else:
                self.end = "time limit" if truncated else "stopped"


def episode_metrics(log: EpisodeLog) -> dict:
    ev = log.events
    collisions = [e["collision"] for e in ev if e.get("collision")]
    counts = {k: sum(bool(e.get(k)) for e in ev) for k in COUNTED_INFRACTIONS}
    reds = counts["red_light"]
    solids = sum(bool(e.get("solid_line")) for e in ev)
    off = sum(bool(e.get("off_road")) for e in ev)
    off_route = sum(bool(e.get("off_route")) for e in ev)
    driven_m = max(sum(e.get("progress_m", 0.0) for e in ev), 0.0)
    km = driven_m / 1000.0
    wrong_m = sum(max(e.get("progress_m", 0.0), 0.0) for e in ev if e.get("wrong_lane"))
    penalty = float(np.prod([PENALTY.get(c, 0.65) for c in collisions]))
    penalty *= float(np.prod([PENALTY[k] ** n for k, n in counts.items()]))
    penalty *= float(np.prod([min_speed_penalty(e["min_speed_ratio"]) for e in ev if e.get("min_speed_ratio") is not None]))
    completion = log.route_completion * (1.0 - wrong_m / driven_m if driven_m > 0 else 1.0)
    v = np.asarray(log.speed_m_s) if log.speed_m_s else np.zeros(1)
    jerk = np.abs(np.diff(v, n=2)) / log.dt_s**2 if len(v) > 2 else np.zeros(1)  # [m/s^3]
    steer = np.asarray([a[0] for a in log.actions]) if log.actions else np.zeros(1)
    return {
        "success": log.end == "goal" and not collisions and not off and not off_route and not any(counts.values()),
        "end": log.end,
        "route_completion": round(log.route_completion, 4),
        "distance_km": round(km, 4),
        "collisions": {k: collisions.count(k) for k in COLLISION_KINDS},
        "off_road": off, "solid_line_crossings": solids, "red_lights_run": reds,
        "stop_signs_run": counts["stop_sign"], "failed_to_yield": counts["failed_to_yield"],
        "blocked_junction": counts["blocked_junction"], "scenario_timeouts": counts["scenario_timeout"],
        "off_route": off_route, "wrong_lane_m": round(wrong_m, 2),
        "mean_speed_kmh": round(float(v.mean() * 3.6), 2),
        "mean_abs_jerk_m_s3": round(float(jerk.mean()), 3),
        "mean_abs_steer_rate_1_s": round(float(np.abs(np.diff(steer)).mean() / log.dt_s), 3) if len(steer) > 1 else 0.0,
        "interventions": log.interventions,
        "interventions_red_light": log.red_light_holds,
        **{name: int(log.aeb_activations.get(stage, 0)) for stage, name in AEB_METRICS.items()},
        "duration_s": round(len(ev) * log.dt_s, 2), "steps": len(ev),
        "driving_score": round(completion * penalty, 4),
    }


def summarize(episodes: list[dict]) -> dict:
    """Rates over episodes: success, completion, score means; events per km of route driven."""
    if not episodes:
        return {"episodes": 0}
    km = sum(e["distance_km"] for e in episodes)

    def per_km(n: float) -> float | None:
        return round(n / km, 3) if km > 0 else None

    coll = {k: sum(e["collisions"][k] for e in episodes) for k in COLLISION_KINDS}
    mean = lambda key: round(float(np.mean([e[key] for e in episodes])), 4)  # noqa: E731
    return {
        "episodes": len(episodes),
        "success_rate": mean("success"),
        "route_completion": mean("route_completion"),
        "driving_score": mean("driving_score"),
        "collisions_per_km": per_km(sum(coll.values())),
        "collisions_per_km_by_kind": {k: per_km(v) for k, v in coll.items()},
        "off_road_per_km": per_km(sum(e["off_road"] for e in episodes)),
        "solid_line_per_km": per_km(sum(e["solid_line_crossings"] for e in episodes)),
        "red_lights_run": sum(e["red_lights_run"] for e in episodes),
        # the navigation towns' events (0 where a world has none of them), per km like the others
        **{f"{k}_per_km": per_km(sum(e.get(k, 0) for e in episodes))
           for k in ("stop_signs_run", "failed_to_yield", "blocked_junction", "off_route")},
        "wrong_lane_share": round(sum(e.get("wrong_lane_m", 0.0) for e in episodes) / (1000 * km), 4) if km > 0 else None,
        "mean_speed_kmh": mean("mean_speed_kmh"),
        "mean_abs_jerk_m_s3": mean("mean_abs_jerk_m_s3"),
        "interventions": sum(e["interventions"] for e in episodes),
        "interventions_per_km": per_km(sum(e["interventions"] for e in episodes)),
        "interventions_red_light": sum(e.get("interventions_red_light", 0) for e in episodes),
        **{f"{name}_per_km": per_km(sum(e.get(name, 0) for e in episodes)) for name in AEB_METRICS.values()},
        "distance_km": round(km, 3),
    }
