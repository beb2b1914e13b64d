"""Training from where the teacher fails (failure-state replay).

On random navigation routes the rule-based driver fails rarely and each time differently (session 20:
14 of 50 routes of 1-2.5 km, every failure of its own kind), so an RL run of 400,000 steps meets a few dozen
failures, each once, among hundreds of thousands of ordinary steps. ``route_failure`` drives the run's own training
env with the teacher's commands on training seeds and keeps, for each route that does not reach its goal, the
step ``lead_s`` before the failure: before the contact for a collision, before the car's last long stand for a
time limit. ``FailureStarts`` starts a share of the training episodes there: it resets the world to the
route's seed and drives that prefix with the teacher's commands again (a residual policy's zero correction),
which reproduces the state exactly (the world and the perception noise reseed from the scene seed), then hands
the car to the policy for at most ``horizon_s``. Starting episodes from states a demonstrator or a replay
buffer provides is the idea of Nair et al. 2018 ("Overcoming Exploration in RL with Demonstrations": resets to
demonstration states) and of prioritised level replay (``control.curriculum``) on the level of one moment.

With ``prioritised``, a start is drawn with weight ``floor`` + the policy's recent failure rate there (as
``control.curriculum`` draws the suite's scenarios: prioritised level replay, Jiang et al. 2021): the policy
spends its replays where it still fails. An episode from a start fails if it meets a collision, leaves the road
or the route, runs a light, or ends having driven less than ``STUCK_M`` (the stand that made a time limit).

The prefix is driven inside ``reset`` and its steps reach the wrappers below (``Monitor`` counts them in its
episode length and return; the teacher's reward there is the same on every replay).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

from .curriculum import RecentFailures
from .metrics import EpisodeLog

STAND_M_S = 0.3  # below this speed the car stands [m/s]
MIN_STAND_S = 10.0  # a time limit's start is before its longest stand, if one lasted this long [s]
STUCK_M = 5.0  # a replayed episode that drives less than this from its start has not broken the stand [m]
FAILED_EVENTS = ("collision", "off_road", "off_route", "red_light")  # events that fail a replayed episode


@dataclass(frozen=True)
class FailureStart:
    """One harvested failure: replay ``seed`` for ``step`` steps with the teacher, then train from there."""

    stage: str
    seed: int  # the scene seed (a training seed)
    step: int  # teacher steps before the policy takes over
    end: str  # how the teacher's route ended (``EpisodeLog.end``): collision (kind), time limit, off road ...
    end_step: int  # the step it ended at


class TeacherPrefix:
    """The commands that replay a failure's prefix, as a driving policy (``act(obs, frame)``, ``reset()``): the
    rule-based driver's (it must see every step's frame), or for a residual env (whose wrapper runs the teacher
    itself) a zero correction."""

    def __init__(self, residual: bool):
        self.residual = residual
        self.driver = None
        if not residual:
            from .policies import RuleBasedPolicy

            self.driver = RuleBasedPolicy()

    def reset(self) -> None:
        if self.driver is not None:
            self.driver.reset()

    def act(self, obs: np.ndarray, frame=None) -> np.ndarray:
        if self.driver is None:
            return np.zeros(2, np.float32)
        return self.driver.act(obs, frame)


def start_step(log: EpisodeLog, lead_s: float) -> int | None:
    """Where to start training on a failed route (``log``: its ``EpisodeLog``): ``lead_s`` before its end, or for
    a time limit before its longest stand began; None for a route that reached its goal, and for a time limit
    without a stand of ``MIN_STAND_S`` (a route run out of time at a crawl has no one moment to learn from: the
    first harvest's starts 8 s before such a limit cost a 5,000-step replay for 160 steps no policy could save)."""
    if log.end == "goal":
        return None
    speeds = np.asarray(log.speed_m_s)
    end = speeds.size
    if log.end == "time limit":
        standing = np.concatenate([[False], speeds < STAND_M_S, [False]])
        edges = np.flatnonzero(np.diff(standing.astype(np.int8)))
        starts, ends = edges[0::2], edges[1::2]  # each stand's first step and the step after its last
        if not starts.size or (ends - starts).max() * log.dt_s < MIN_STAND_S:
            return None
        end = int(starts[np.argmax(ends - starts)])
    return max(end - int(round(lead_s / log.dt_s)), 0)


def route_failure(env: gym.Env, prefix: "TeacherPrefix", stage: str, seed: int, lead_s: float) -> FailureStart | None:
    """Drive the teacher (``prefix``) on route ``seed`` in ``env`` (the run's own training env of ``stage``): the
    failure's start state, None where it reached the goal."""
    from .evaluate import run_episode

    _, log = run_episode(env, prefix, int(seed))
    step = start_step(log, lead_s)
    return None if step is None else FailureStart(stage, int(seed), step, log.end, len(log.speed_m_s))


def save_starts(path: Path, starts: list[FailureStart], routes: dict[str, int], world: dict | None = None) -> None:
    """``routes``: routes driven per stage (a stage with no failure is still recorded as harvested); ``world``: what
    the starts are only valid for (route length, noise), checked when another run reuses the file."""
    tmp = Path(path).with_suffix(".tmp")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    data = {"routes": routes, "world": world or {}, "starts": [asdict(s) for s in starts]}
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)  # whole or absent, never half-read (an interrupted harvest resumes from its per-route journal)


def load_starts(path: Path) -> tuple[list[FailureStart], dict[str, int]]:
    data = json.loads(Path(path).read_text())
    return [FailureStart(**s) for s in data["starts"]], dict(data["routes"])


def harvest_world(path: Path) -> dict:
    """The world a harvest file's starts were driven in (``{}`` for files from before it was recorded)."""
    return dict(json.loads(Path(path).read_text()).get("world", {}))


class FailureStarts(gym.Wrapper):
    """Starts ``share`` of the resets without a seed or options at a harvested failure (drawn uniformly, or with
    ``prioritised`` by the policy's recent failure rate there), the rest as the env would; an episode started at a
    failure is truncated after ``horizon_steps`` policy steps. ``info["failure_start"]`` names the start on such a
    reset; at the end of such an episode ``info["curriculum_failure_rates"]`` holds the recent failure rate per
    kind of start (``replay <end>``; ``control.finetune.CurriculumLog`` puts it in TensorBoard)."""

    def __init__(self, env: gym.Env, starts: list[FailureStart], share: float, horizon_steps: int, residual: bool,
                 seed: int = 0, prioritised: bool = False, floor: float = 0.15, memory: int = 10):
        super().__init__(env)
        self.starts = list(starts)
        self.share = float(share)
        self.horizon_steps = int(horizon_steps)
        self.prefix = TeacherPrefix(residual)
        self.prioritised = bool(prioritised)
        self._recent = RecentFailures(len(self.starts), floor, memory)
        self._rng = np.random.default_rng([seed, 0xFA11])
        self._left: int | None = None
        self._current: int | None = None  # the start being played
        self._driven_m, self._failed = 0.0, False

    def _draw(self) -> int:
        return self._recent.draw(self._rng) if self.prioritised else int(self._rng.integers(len(self.starts)))

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self._left = self._current = None
        if seed is None and options is None and self.starts and self._rng.random() < self.share:
            k = self._draw()
            replayed = self._replay(self.starts[k])
            if replayed is not None:
                self._current, self._driven_m, self._failed = k, 0.0, False
                return replayed
        return self.env.reset(seed=seed, options=options)

    def _replay(self, start: FailureStart):
        obs, info = self.env.reset(seed=start.seed)
        self.prefix.reset()
        for _ in range(start.step):
            obs, _, terminated, truncated, info = self.env.step(self.prefix.act(obs, info.get("perception")))
            if terminated or truncated:  # not the harvest's world (another env stack): start as usual
                return None
        self._left = self.horizon_steps
        info = dict(info)
        info["failure_start"] = asdict(start)
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self._left is not None:
            self._left -= 1
            if self._left <= 0 and not terminated:
                truncated = True
        if self._current is not None:
            events = info.get("events") or {}
            self._driven_m += float(events.get("progress_m", 0.0))
            self._failed |= any(events.get(k) for k in FAILED_EVENTS)
            if terminated or truncated:
                self._recent.record(self._current, not self._failed and self._driven_m >= STUCK_M)
                self._current = None
                info["curriculum_failure_rates"] = self.rates_by_kind()
        return obs, reward, terminated, truncated, info

    def rates_by_kind(self) -> dict[str, float]:
        """The recent failure rate over the starts of each kind of teacher failure (``replay <end>``)."""
        rates: dict[str, list[float]] = {}
        for start, rate in zip(self.starts, self._recent.rates()):
            rates.setdefault(f"replay {start.end}", []).append(rate)
        return {kind: float(np.mean(r)) for kind, r in rates.items()}
