"""The training reward as the driving score counts: route progress, CARLA's infraction penalties,
time and comfort, as named terms.

The simulator's own reward (``sim.config.RewardConfig``) is a hand-weighted sum (speed near the
limit, lane centring, flat penalties). A policy trained on it learns what those weights say, not
what the benchmark scores. ``DrivingReward`` replaces it, for training only, with terms that add up
to an additive reading of the CARLA leaderboard's driving score (``control.metrics``: route
completion times one penalty factor per infraction):

==============  ==============================================================================
term            per step
==============  ==============================================================================
progress        ``route_reward`` x (route progress this step / route length): a whole route
                earns ``route_reward``
infraction      ``-route_reward`` x (1 - CARLA's factor) per infraction (``control.metrics.PENALTY``):
                a pedestrian hit costs half a route, a vehicle 0.4, a red light 0.3, a stop sign 0.2;
                leaving the road or the route as a static collision (0.35; both end the episode,
                forfeiting the rest of the route, as CARLA's route deviation does)
lane            ``-lane_penalty`` per solid-line crossing and per entry into an oncoming lane
time            ``-time_per_s`` x dt: a route driven slowly earns less (CARLA's min-speed penalty)
comfort         ``-comfort`` x the squared change of [steer, accel] from the last step
==============  ==============================================================================

``info["reward_terms"]`` then holds these terms (``control.finetune.RewardTerms`` logs their shares);
the simulator's are kept under ``info["sim_reward_terms"]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from .metrics import COUNTED_INFRACTIONS, PENALTY

LEAVING = 0.65  # off road / off route: penalised as a static collision (CARLA's layout collision factor)


@dataclass(frozen=True)
class DrivingRewardConfig:
    route_reward: float = 10.0  # what a whole route's progress earns
    time_per_s: float = 0.01  # per second driven
    lane_penalty: float = 0.5  # per solid-line crossing or entry into an oncoming lane
    comfort: float = 0.05  # times the squared change of [steer, accel] per step


def infraction_cost(events: dict) -> float:
    """The penalty factors' additive reading for one step's events: sum of (1 - factor)."""
    cost = 0.0
    if events.get("collision"):
        cost += 1.0 - PENALTY.get(events["collision"], PENALTY["static"])
    cost += sum(1.0 - PENALTY[k] for k in COUNTED_INFRACTIONS if events.get(k))
    if events.get("off_road") or events.get("off_route"):
        cost += 1.0 - LEAVING
    return cost


class DrivingReward(gym.Wrapper):
    def __init__(self, env: gym.Env, config: DrivingRewardConfig = DrivingRewardConfig()):
        super().__init__(env)
        self.config = config
        self._prev = np.zeros(2)

    def reset(self, **kwargs):
        self._prev = np.zeros(2)
        return self.env.reset(**kwargs)

    def step(self, action):
        obs, _, terminated, truncated, info = self.env.step(action)
        c, ev = self.config, info["events"]
        a = np.clip(np.asarray(action, np.float64).reshape(-1), -1.0, 1.0)
        route_m = max(float(info["ground_truth"].ego.route_length_m), 1.0)
        terms = {"progress": c.route_reward * float(ev.get("progress_m", 0.0)) / route_m,
                 "infraction": -c.route_reward * infraction_cost(ev),
                 "lane": -c.lane_penalty * (bool(ev.get("solid_line")) + bool(ev.get("wrong_lane"))),
                 "time": -c.time_per_s * self.env.unwrapped.dt_s,
                 "comfort": -c.comfort * float(np.sum((a - self._prev) ** 2))}
        self._prev = a
        info["sim_reward_terms"] = info.get("reward_terms")
        info["reward_terms"] = terms
        return obs, float(sum(terms.values())), terminated, truncated, info
