"""``drivestack train policy``: a stable-baselines3 driving policy on perception features.

The fast path of the issue: the policy trains on ``GroundTruthPerception`` (labels, rendering
off) degraded by the perception noise the models' evaluation measured, in ``n_envs``
subprocess envs, through a curriculum (empty road -> traffic -> the full town). Steps:

1. warm start (optional, on by default): behaviour cloning from the rule-based driver. The
   expert drives with noise added to its commands (so the data holds recoveries, as in
   DART), the actor's mean learns the expert's command on every visited state and the value
   head the discounted return; then ``dagger_rounds`` of DAgger (the learner drives, the
   expert labels, refit on everything). This puts PPO in a driving regime in minutes instead
   of hours.
2. PPO (or SAC) through the curriculum stages, each a share of ``total_steps``.
3. Every ``eval_every_steps``: deterministic episodes on held-out validation seeds; the best
   by mean driving score is kept as ``best.zip``. Every ``checkpoint_every_steps``:
   ``checkpoints/latest.zip`` and ``state.json``; ``resume`` continues from there.

Outputs in ``out_dir``: config.yaml, tb/ (TensorBoard), checkpoints/, evaluations.jsonl,
best.zip, final.zip, result.json.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.config import ConfigError, check_range, save_yaml

from .envs import REWARDS, STAGES, SUITE_STAGE, VALIDATION_SEED0, VALIDATION_SEEDS, make_stage_env, stage_reads_route
from .features import LAYOUT_ID
from .route_features import LAYOUT_V2_ID


@dataclass(frozen=True)
class PolicyTrainConfig:
    out_dir: str = "runs/policy"  # run folder
    algo: str = "ppo"  # ppo | sac
    observation: str = "features"  # features (perception's vector) | pixels (end-to-end baseline: camera image + odometry)
    total_steps: int = 300_000  # RL env steps after the warm start
    n_envs: int = 2  # subprocess envs (one per core), or Ray actors' envs
    # of the n_envs, this many play the safety suite's scenarios (drawn by recent failure, control.curriculum) in
    # every stage, beside the stage's world rather than after it (session 19: a suite stage after the town undid
    # the town; a correction trained in the town alone steered on the highway)
    suite_envs: int = 0
    envs_on: str = "local"  # local: SubprocVecEnv on this machine | ray: RayVecEnv, envs in Ray actors (train policy --ray)
    envs_per_actor: int = 1  # envs_on=ray: envs stepped by one actor per remote call
    rollouts_in: str = "auto"  # envs_on=ray: learner (a remote call per step) | actors (PPO on features: a batch per
    # update, control.ray_rollouts) | auto: actors where they apply, else learner
    seed: int = 0
    stages: tuple[str, ...] = ("empty", "traffic", "town")  # curriculum, in order (names from control.envs.STAGES)
    stage_fractions: tuple[float, ...] = (0.15, 0.25, 0.6)  # share of total_steps per stage
    route_length_m: float = 300.0  # training routes [m] (shorter episodes, more resets)
    reward: str = "sim"  # sim: the simulator's reward | driving: progress, CARLA's infraction penalties, time (control.reward)
    # labels degraded by perception noise: measured (each frame's errors drawn afresh), models (the models' errors
    # correlated in time, their track speeds, sure range and light confusion) or none (perception.ground_truth
    # .PerceptionNoise.named; true / false are measured / none)
    noise: bool | str = True
    warm_start_steps: int = 40_000  # behaviour-cloning data from the rule-based driver [env steps]; 0 = none
    warm_start_epochs: int = 20
    dagger_rounds: int = 2  # after cloning the expert: drive with the learner, label its states with the expert, refit
    warm_start_action_noise: tuple[float, float] = (0.15, 0.3)  # std added to the expert's (steer, accel) while collecting
    learning_rate: float = 1e-4
    n_steps: int = 1024  # PPO rollout per env
    batch_size: int = 256
    n_epochs: int = 5
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.1
    ent_coef: float = 0.0
    log_std_init: float = -1.6  # initial exploration std = exp(this); with use_sde, per latent feature (see below)
    # gSDE (Raffin et al. 2021, SB3's use_sde): exploration noise that is a linear function of the policy's latent
    # features, its weights redrawn every sde_sample_freq steps (-1: once per rollout), so that it is smooth in
    # time instead of white noise per 50-ms step. The action's noise std is then exp(log_std_init) x the latent's
    # norm (~7-10 for a 256-unit tanh layer): -4.3 gives ~0.2 at initialisation, as -1.6 does without it.
    use_sde: bool = False
    sde_sample_freq: int = -1
    net_arch: tuple[int, ...] = (256, 256)
    # keeping RL near the warm start (control.finetune; 0 = off)
    value_warmup_steps: int = 0  # RL env steps with the actor frozen while the critic learns
    kl_coef: float = 0.0  # reward lowered by this x KL(policy || warm start) per step
    kl_decay: float = 1.0  # kl_coef multiplied by this after each PPO update
    bc_coef: float = 0.0  # weight of the behaviour-cloning steps on the warm start's data after each update
    bc_decay: float = 1.0  # bc_coef multiplied by this after each PPO update
    bc_steps: int = 10  # minibatch steps of behaviour cloning after each update
    # residual RL (control.residual): the policy learns a correction on top of the rule-based driver, which it
    # starts as (a zeroed action head; no warm start needed); the executed command is teacher + scale x output
    residual: bool = False
    residual_scale: float | tuple[float, float] = 0.5  # one for both commands, or [steer, accel]
    correction_cost: float = 0.0  # reward lost per step x the executed correction's (or the knobs' action's) mean square
    # decision-level RL (control.knob_policy): the policy sets the rule-based driver's knobs (control.knobs: x its time
    # gaps, x its cruise speed) each step and the driver drives; it starts as the driver (identity knobs)
    knobs: bool = False
    # the safety supervisor in the training loop (control.supervised_training): it brakes as at drive time and
    # each step it overrides the command costs intervention_cost, so the policy learns to brake before it has to
    supervised: bool = False
    intervention_cost: float = 0.05  # per overridden 50-ms step (a 1-s full brake: 1.0; a vehicle hit: 4.0)
    # failure-state replay (control.failure_starts): before RL the teacher drives failure_routes training routes of
    # each stage but the suite (which has its own curriculum); failure_share of that stage's episodes then start
    # failure_lead_s before one of the teacher's failures there and run at most failure_horizon_s
    failure_routes: int = 0
    failure_share: float = 0.3
    failure_lead_s: float = 8.0
    failure_horizon_s: float = 30.0
    failure_prioritised: bool = False  # draw starts by the policy's recent failure rate there, not uniformly
    # harvest files of earlier runs (their failure_starts.json) to start from instead of, or besides, a harvest of
    # this run's own: the harvest depends only on the stage, the route length, the noise and the teacher's code, and
    # costs ~10 min of 2 cores per 100 km of 500-m town routes (a failure per ~20 km)
    failure_starts_from: tuple[str, ...] = ()
    eval_every_steps: int = 50_000
    eval_seeds: tuple[int, ...] = VALIDATION_SEEDS
    eval_workers: int = 1  # processes for the validation episodes (training waits meanwhile: its cores are free)
    # held-out safety-suite cases the validation also drives (control.suite_validation); with them best.zip is
    # picked on the mean of the town's driving score and the suite's pass rate, not on the town alone
    suite_eval_cases: int = 0
    checkpoint_every_steps: int = 20_000
    device: str = "cpu"  # an MLP policy runs faster on the CPU than on a GPU

    def __post_init__(self) -> None:
        if self.algo not in ("ppo", "sac"):
            raise ConfigError(f"algo={self.algo!r} is not allowed; use ppo or sac")
        if self.observation not in ("features", "pixels"):
            raise ConfigError(f"observation={self.observation!r} is not allowed; use features or pixels")
        if not isinstance(self.noise, bool):
            from perception.ground_truth import PerceptionNoise

            PerceptionNoise.named(self.noise)  # one line naming the allowed profiles
        for s in self.stages:
            if s not in STAGES:
                raise ConfigError(f"stages: {s!r} is not a stage; use some of {sorted(STAGES)}")
        if any(stage_reads_route(s) for s in self.stages) and self.observation == "pixels":
            raise ConfigError("observation=pixels reads no route; the navigation stages need observation=features")
        if len(self.stage_fractions) != len(self.stages) or abs(sum(self.stage_fractions) - 1.0) > 1e-6:
            raise ConfigError(f"stage_fractions={self.stage_fractions} must give one share per stage, summing to 1")
        check_range("total_steps", self.total_steps, 1, None)
        check_range("n_envs", self.n_envs, 1, 1024)
        if self.envs_on not in ("local", "ray"):
            raise ConfigError(f"envs_on={self.envs_on!r} is not allowed; use local or ray")
        if self.envs_on == "local" and self.n_envs > 64:
            raise ConfigError(f"n_envs={self.n_envs} is not allowed for local envs; use 1..64 (more with envs_on=ray)")
        check_range("envs_per_actor", self.envs_per_actor, 1, 64)
        check_range("suite_envs", self.suite_envs, 0, self.n_envs - 1)
        check_range("suite_eval_cases", self.suite_eval_cases, 0, 2000)
        if self.suite_eval_cases and not (self.suite_envs or any(stage_reads_route(s) for s in self.stages)):
            raise ConfigError("suite_eval_cases drives suite cases with the route block (layout v2): it needs suite_envs "
                              "or a navigation stage (e.g. stages=[townnav])")
        if self.suite_envs and self.observation != "features":
            raise ConfigError("suite_envs plays the suite's scenarios on features: it needs observation=features")
        if self.rollouts_in not in ("auto", "learner", "actors"):
            raise ConfigError(f"rollouts_in={self.rollouts_in!r} is not allowed; use auto, learner or actors")
        if self.rollouts_in == "actors" and (self.envs_on != "ray" or self.algo != "ppo" or self.observation != "features"):
            raise ConfigError("rollouts_in=actors is for PPO on features with envs in Ray actors "
                              "(envs_on=ray, algo=ppo, observation=features)")
        check_range("warm_start_steps", self.warm_start_steps, 0, None)
        check_range("sde_sample_freq", self.sde_sample_freq, -1, None)
        if self.use_sde and self.collects_in_actors():
            raise ConfigError("use_sde=true needs the rollouts in the learner: set rollouts_in=learner with envs_on=ray")
        check_range("route_length_m", self.route_length_m, 50.0, 5000.0)
        if not self.eval_seeds:
            raise ConfigError("eval_seeds must hold at least one seed")
        check_range("eval_workers", self.eval_workers, 1, 256)
        if self.reward not in REWARDS:
            raise ConfigError(f"reward={self.reward!r} is not allowed; use one of {', '.join(REWARDS)}")
        if self.reward != "sim" and self.observation == "pixels":
            raise ConfigError("reward=driving is for observation=features")
        check_range("value_warmup_steps", self.value_warmup_steps, 0, None)
        check_range("bc_steps", self.bc_steps, 1, 10_000)
        for name in ("kl_coef", "bc_coef"):
            check_range(name, getattr(self, name), 0.0, 1000.0)
        for name in ("kl_decay", "bc_decay"):
            check_range(name, getattr(self, name), 0.0, 1.0)
        if (self.kl_coef or self.bc_coef) and not self.warm_start_steps:
            raise ConfigError("kl_coef and bc_coef keep RL near the warm start: they need warm_start_steps > 0")
        if (self.kl_coef or self.bc_coef or self.value_warmup_steps) and (self.algo != "ppo" or self.observation != "features"):
            raise ConfigError("kl_coef, bc_coef and value_warmup_steps are for PPO on features (algo=ppo, observation=features)")
        for scale in (self.residual_scale if isinstance(self.residual_scale, tuple) else (self.residual_scale,)):
            check_range("residual_scale", scale, 0.01, 2.0)
        check_range("correction_cost", self.correction_cost, 0.0, 100.0)
        if self.correction_cost and not (self.residual or self.knobs):
            raise ConfigError("correction_cost prices a residual's correction or the knobs' departure: it needs "
                              "residual=true or knobs=true")
        if self.residual and self.knobs:
            raise ConfigError("residual=true and knobs=true are two kinds of policy on the rule-based driver: pick one")
        check_range("intervention_cost", self.intervention_cost, 0.0, 100.0)
        check_range("failure_routes", self.failure_routes, 0, 100_000)
        check_range("failure_share", self.failure_share, 0.0, 1.0)
        check_range("failure_lead_s", self.failure_lead_s, 0.0, 120.0)
        check_range("failure_horizon_s", self.failure_horizon_s, 1.0, 600.0)
        # checked before a run folder is made, so a refusal leaves none behind; a run folder that holds its merged
        # copy (a resume) reads them no more, so a harvest file moved since does not block the resume
        sources = () if (Path(self.out_dir) / FAILURES_FILE).is_file() else self.failure_starts_from
        for f in sources:
            if not Path(f).is_file():
                raise ConfigError(f"failure_starts_from: no harvest file {f!r} (a run folder's {FAILURES_FILE})")
            from .failure_starts import harvest_world

            theirs, world = harvest_world(f), _harvest_world(self)
            if any(theirs.get(k, v) != v for k, v in world.items()):
                raise ConfigError(f"failure_starts_from {f!r} was harvested with {theirs}; this run trains with {world}")
        if (self.failure_routes or self.failure_starts_from) and self.observation != "features":
            raise ConfigError("failure_routes replays the rule-based driver's failures: it needs observation=features")
        if self.supervised and self.observation != "features":
            raise ConfigError("supervised=true is for observation=features (the supervisor reads the feature vector)")
        for on, name, start in ((self.residual, "residual", "a zero correction"), (self.knobs, "knobs", "identity knobs")):
            if on and (self.algo != "ppo" or self.observation != "features"):
                raise ConfigError(f"{name}=true is for PPO on features (algo=ppo, observation=features)")
            if on and self.warm_start_steps:
                raise ConfigError(f"{name}=true starts as the rule-based driver itself ({start}): "
                                  f"set warm_start_steps=0 (configs/policy_{name}*.yaml do)")

    @property
    def on_teacher(self) -> bool:
        """Whether the policy acts through the rule-based driver (a residual correction or its knobs)."""
        return self.residual or self.knobs


    def collects_in_actors(self) -> bool:
        """Whether PPO's rollouts are collected inside the Ray actors (``rollouts_in``; auto: PPO on features with
        the envs on Ray, where it removes the round trip per step; measured in docs/cluster.md)."""
        applies = self.envs_on == "ray" and self.algo == "ppo" and self.observation == "features"
        return self.rollouts_in == "actors" or (self.rollouts_in == "auto" and applies)

FAILURES_FILE = "failure_starts.json"  # in the run folder: the teacher's harvested failures (control.failure_starts)
HARVEST_JOURNAL = ".harvest"  # in the run folder while harvesting: each route driven, so a cut harvest resumes


def harvested_stages(cfg: PolicyTrainConfig) -> tuple[str, ...]:
    """The stages whose teacher failures a run harvests: all but the suite (its curriculum draws its cases)."""
    replays = cfg.failure_routes or cfg.failure_starts_from
    return tuple(s for s in cfg.stages if s != SUITE_STAGE) if replays else ()


def _env_fn(cfg: PolicyTrainConfig, stage: str, rank: int, replay: bool = True):
    """A training env of ``stage`` for worker ``rank``; ``replay``: with the run's failure starts (when it has them)."""
    def make():
        from perception.ground_truth import PerceptionNoise

        noise = PerceptionNoise.named(cfg.noise)
        seed = cfg.seed * 1000 + rank
        if cfg.observation == "pixels":
            from .pixels import make_pixel_env

            return make_pixel_env(stage, cfg.route_length_m, training_seed=seed, monitor=True)
        env = make_stage_env(stage, cfg.route_length_m, training_seed=seed, noise=noise, noise_seed=seed, monitor=True,
                             reward=cfg.reward, layout=_layout(cfg))
        teacher = None
        if cfg.on_teacher:
            from .policies import RuleBasedPolicy

            teacher = RuleBasedPolicy()
        if cfg.supervised:  # between the executed command and the world, as when driving
            from .supervised_training import SupervisedTraining

            env = SupervisedTraining(env, cfg.intervention_cost, teacher)
        if cfg.residual:
            from .residual import TeacherResidual

            env = TeacherResidual(env, cfg.residual_scale, teacher, cfg.correction_cost)
        if cfg.knobs:
            from .knob_policy import TeacherKnobs

            env = TeacherKnobs(env, teacher, cfg.correction_cost)
        if replay and stage in harvested_stages(cfg):
            from .failure_starts import FailureStarts, load_starts

            starts, _ = load_starts(Path(cfg.out_dir) / FAILURES_FILE)
            horizon = round(cfg.failure_horizon_s / env.unwrapped.dt_s)
            env = FailureStarts(env, [s for s in starts if s.stage == stage], cfg.failure_share, horizon, cfg.on_teacher,
                                seed=seed, prioritised=cfg.failure_prioritised)
        return env
    return make


def env_stages(cfg: PolicyTrainConfig, stage: str) -> list[str]:
    """What each of the run's ``n_envs`` training envs plays while ``stage`` trains: the stage, and in the last
    ``suite_envs`` the safety suite's curriculum."""
    return [SUITE_STAGE if k >= cfg.n_envs - cfg.suite_envs else stage for k in range(cfg.n_envs)]


def _vec_env(cfg: PolicyTrainConfig, stage: str):
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    fns = [_env_fn(cfg, s, k) for k, s in enumerate(env_stages(cfg, stage))]
    if cfg.envs_on == "ray":
        from .ray_envs import RayVecEnv

        if cfg.collects_in_actors():
            from .ray_rollouts import RolloutHost

            return RayVecEnv(fns, cfg.envs_per_actor, host_class=RolloutHost)
        return RayVecEnv(fns, cfg.envs_per_actor)
    return SubprocVecEnv(fns, start_method="spawn") if cfg.n_envs > 1 else DummyVecEnv(fns)


def _algo_class(cfg: PolicyTrainConfig):
    """SB3's PPO or SAC; PPO collecting its rollouts inside the Ray actors with ``rollouts_in=actors``."""
    from stable_baselines3 import PPO, SAC

    if cfg.collects_in_actors():
        from .ray_rollouts import ActorRolloutPPO

        return ActorRolloutPPO
    return {"ppo": PPO, "sac": SAC}[cfg.algo]


def _new_model(cfg: PolicyTrainConfig, env, tb_dir: Path):
    from stable_baselines3 import SAC

    PPO = _algo_class(cfg) if cfg.algo == "ppo" else None
    arch = list(cfg.net_arch)
    net = "MultiInputPolicy" if cfg.observation == "pixels" else "MlpPolicy"
    if cfg.algo == "ppo":
        return PPO(net, env, learning_rate=cfg.learning_rate, n_steps=cfg.n_steps, batch_size=cfg.batch_size,
                   n_epochs=cfg.n_epochs, gamma=cfg.gamma, gae_lambda=cfg.gae_lambda, clip_range=cfg.clip_range,
                   ent_coef=cfg.ent_coef, seed=cfg.seed, device=cfg.device, tensorboard_log=str(tb_dir), verbose=0,
                   use_sde=cfg.use_sde, sde_sample_freq=cfg.sde_sample_freq,
                   policy_kwargs={"net_arch": {"pi": arch, "vf": arch}, "log_std_init": cfg.log_std_init})
    return SAC(net, env, learning_rate=cfg.learning_rate, batch_size=cfg.batch_size, gamma=cfg.gamma,
               seed=cfg.seed, device=cfg.device, tensorboard_log=str(tb_dir), verbose=0,
               use_sde=cfg.use_sde, sde_sample_freq=cfg.sde_sample_freq,
               policy_kwargs={"net_arch": arch, "log_std_init": cfg.log_std_init})


# --- warm start ---------------------------------------------------------------------------------
def collect_expert(cfg: PolicyTrainConfig, steps: int, progress: bool = True, driver=None,
                   round_seed: int = 0) -> dict[str, np.ndarray]:
    """States labelled with the rule-based expert's commands, and discounted returns.

    Without ``driver`` the expert drives, with noise added to its commands (DART); with a
    ``driver`` (the learner, DAgger) the driver's commands are executed and the expert only labels."""
    from tqdm import tqdm


    from perception.ground_truth import PerceptionNoise

    from .policies import RuleBasedPolicy

    rng = np.random.default_rng([cfg.seed, round_seed])
    expert = RuleBasedPolicy()
    noise = PerceptionNoise.named(cfg.noise)
    if cfg.observation == "pixels":
        from .pixels import make_pixel_env

        envs = {s: make_pixel_env(s, cfg.route_length_m, training_seed=cfg.seed + 77 + round_seed)
                for s in dict.fromkeys(cfg.stages)}
    else:
        envs = {s: make_stage_env(s, cfg.route_length_m, training_seed=cfg.seed + 77 + round_seed, noise=noise,
                                  noise_seed=cfg.seed + round_seed, reward=cfg.reward, layout=_layout(cfg))
                for s in dict.fromkeys(cfg.stages)}
    obs_l, act_l, ret_l = [], [], []
    std = np.array(cfg.warm_start_action_noise, np.float32)
    who = "expert" if driver is None else f"learner (DAgger round {round_seed})"
    bar = tqdm(total=steps, desc=f"warm start: {who} driving", unit="step", disable=not progress, leave=False)
    episode = 0
    while len(obs_l) < steps:
        env = envs[cfg.stages[episode % len(cfg.stages)]]
        episode += 1
        obs, info = env.reset()
        expert.reset()
        rewards = []
        while True:
            target = expert.act(info.get("features", obs))  # pixel envs carry the label features for the expert
            obs_l.append(obs)
            act_l.append(target)
            if driver is None:
                executed = np.clip(target + rng.normal(0, 1, 2).astype(np.float32) * std, -1, 1)
            else:
                executed = driver.act(obs)
            obs, r, term, trunc, info = env.step(executed)
            rewards.append(r)
            bar.update(1)
            if term or trunc or len(obs_l) >= steps:
                break
        ret, acc = np.zeros(len(rewards), np.float32), 0.0
        for k in range(len(rewards) - 1, -1, -1):
            acc = rewards[k] + cfg.gamma * acc
            ret[k] = acc
        ret_l.append(ret)
    bar.close()
    for env in envs.values():
        env.close()
    if isinstance(obs_l[0], dict):  # images channel-first, as SB3 stores image observations
        observations = {"image": np.stack([o["image"].transpose(2, 0, 1) for o in obs_l]),
                        "state": np.stack([o["state"] for o in obs_l]).astype(np.float32)}
    else:
        observations = np.asarray(obs_l, np.float32)
    return {"obs": observations, "actions": np.asarray(act_l, np.float32),
            "returns": np.concatenate(ret_l)[: len(obs_l)]}


def behaviour_clone(model, data: dict[str, np.ndarray], epochs: int, seed: int = 0, lr: float = 1e-3) -> dict:
    """Fit the policy's deterministic action to the expert's (and, for PPO, the value to the returns)."""
    import torch

    policy = model.policy
    dev = policy.device
    raw = data["obs"]
    as_t = lambda a: torch.as_tensor(a, device=dev)  # noqa: E731
    obs = {k: as_t(v) for k, v in raw.items()} if isinstance(raw, dict) else as_t(raw)
    take = (lambda idx: {k: v[idx] for k, v in obs.items()}) if isinstance(obs, dict) else (lambda idx: obs[idx])
    n = len(data["actions"])
    act = torch.as_tensor(data["actions"], device=dev)
    ret = torch.as_tensor(data["returns"], device=dev)
    is_ppo = hasattr(policy, "value_net")
    params = list(policy.parameters()) if is_ppo else list(policy.actor.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    losses, action_losses = [], []
    policy.set_training_mode(True)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen).to(dev)
        total = total_action = 0.0
        for start in range(0, n, 256):
            idx = perm[start:start + 256]
            if is_ppo:
                features = policy.extract_features(take(idx))
                latent_pi, latent_vf = policy.mlp_extractor(features)
                pred = policy.action_net(latent_pi)
                action_loss = torch.nn.functional.mse_loss(pred, act[idx])
                loss = action_loss + 0.1 * torch.nn.functional.mse_loss(policy.value_net(latent_vf).squeeze(-1), ret[idx])
            else:
                pred = policy.actor(take(idx), deterministic=True)
                action_loss = loss = torch.nn.functional.mse_loss(pred, act[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            total_action += float(action_loss.detach()) * len(idx)
        losses.append(total / n)
        action_losses.append(total_action / n)
    policy.set_training_mode(False)
    return {"first_epoch_loss": round(losses[0], 5), "last_epoch_loss": round(losses[-1], 5),
            "last_epoch_action_mse": round(action_losses[-1], 5), "samples": n}


def _concat(a: dict, b: dict) -> dict:
    def cat(x, y):
        return {k: np.concatenate([x[k], y[k]]) for k in x} if isinstance(x, dict) else np.concatenate([x, y])
    return {k: cat(a[k], b[k]) for k in a}


def warm_start(cfg: PolicyTrainConfig, model, out: Path | None = None, progress: bool = True) -> dict:
    """Behaviour cloning from the rule-based expert, then ``dagger_rounds`` of DAgger; per-round stats.

    With ``out``, each finished round leaves the model, the data so far and the stats in
    ``out/warm_start/``, and a call on the same folder continues after the last finished round: an
    interrupted warm start loses at most the round it was in. A continued run gives the same weights as
    an uninterrupted one (each round's data and fit are seeded by the round)."""
    from .policies import SB3Policy

    ckpt = Path(out) / "warm_start" if out is not None else None
    rounds, data = _load_warm_start(ckpt, model, cfg.device) if ckpt is not None else ([], None)
    for r in range(len(rounds), cfg.dagger_rounds + 1):
        learner = None if r == 0 else SB3Policy(model, "learner", cfg.observation, _layout(cfg))
        new = collect_expert(cfg, cfg.warm_start_steps, progress, driver=learner, round_seed=r)
        data = new if data is None else _concat(data, new)
        rounds.append(behaviour_clone(model, data, cfg.warm_start_epochs, cfg.seed + r))
        if ckpt is not None:
            _save_warm_start(ckpt, model, data, rounds, _layout(cfg))
    return {"rounds": rounds, "samples": len(data["actions"])}


def _save_warm_start(ckpt: Path, model, data: dict, rounds: list, layout: str) -> None:
    """The round's model and data first, its stats (``rounds.json``, what a continuation reads) last."""
    from .policies import save_policy

    ckpt.mkdir(parents=True, exist_ok=True)
    save_policy(model, ckpt / "model.zip", layout)
    flat = {f"obs_{k}": v for k, v in data["obs"].items()} if isinstance(data["obs"], dict) else {"obs": data["obs"]}
    tmp = ckpt / "data.partial.npz"
    np.savez(tmp, actions=data["actions"], returns=data["returns"], **flat)
    tmp.replace(ckpt / "data.npz")
    _write_json(ckpt / "rounds.json", {"rounds": rounds})


def _load_warm_start(ckpt: Path, model, device: str) -> tuple[list, dict | None]:
    """The finished rounds' stats and data, the model set to the last round's weights; ([], None) when none."""
    if not (ckpt / "rounds.json").is_file():
        return [], None
    rounds = json.loads((ckpt / "rounds.json").read_text())["rounds"]
    model.set_parameters(str(ckpt / "model.zip"), exact_match=True, device=device)
    with np.load(ckpt / "data.npz") as z:
        obs = ({k[4:]: z[k] for k in z.files if k.startswith("obs_")} if "obs" not in z.files else z["obs"])
        data = {"obs": obs, "actions": z["actions"], "returns": z["returns"]}
    return rounds, data


# --- callbacks --------------------------------------------------------------------------------
def _callbacks(cfg: PolicyTrainConfig, out: Path, state: dict, bar):
    from stable_baselines3.common.callbacks import BaseCallback

    from .suite_validation import selection_score
    from .validation import suite_validation_env, validate, validation_env

    class Progress(BaseCallback):
        def _on_step(self) -> bool:
            bar.update(min(self.num_timesteps, bar.total) - bar.n)  # tqdm redraws at most every mininterval
            return True

    class EvalAndCheckpoint(BaseCallback):
        """Held-out evaluation (best model kept) and resumable checkpoints."""

        def __init__(self):
            super().__init__()
            in_process = cfg.eval_workers <= 1  # else workers build their own
            self.eval_env = validation_env(cfg) if in_process else None
            self.suite_env = suite_validation_env(cfg) if in_process and cfg.suite_eval_cases else None

        def _on_step(self) -> bool:
            t = self.num_timesteps
            # not in the last rollout: the final evaluation after it sees the final weights (one validation, not two)
            if t - state["last_eval"] >= cfg.eval_every_steps and t <= cfg.total_steps - cfg.n_steps * cfg.n_envs:
                state["last_eval"] = t
                self.evaluate_now()
            if t - state["last_checkpoint"] >= cfg.checkpoint_every_steps:
                state["last_checkpoint"] = t
                self.checkpoint()
            return True

        def evaluate_now(self, record: bool = True) -> dict:
            report = validate(cfg, _driver(cfg, self.model), self.eval_env, lambda path: _save(cfg, self.model, path), out,
                              self.suite_env)
            s, suite = report["summary"], report.get("suite")
            for key in ("driving_score", "success_rate", "route_completion", "collisions_per_km"):
                if record and s.get(key) is not None:
                    self.logger.record(f"eval/{key}", s[key])
            score = selection_score(s, suite)
            if record and suite is not None:
                self.logger.record("eval/suite_pass_rate", suite["pass_rate"])
                self.logger.record("eval/selection_score", score[0])
            line = {"steps": self.num_timesteps, "stage": state["stage"], **{k: s[k] for k in
                    ("driving_score", "success_rate", "route_completion", "collisions_per_km", "red_lights_run")}}
            if suite is not None:
                line.update(suite_pass_rate=suite["pass_rate"], suite_failed=suite["failed"], selection_score=score[0])
            with open(out / "evaluations.jsonl", "a") as fh:
                fh.write(json.dumps(line) + "\n")
            if state["best"] is None or score > tuple(state["best"]):
                state["best"] = list(score)
                state["best_steps"] = self.num_timesteps
                state["best_validation"] = {k: v for k, v in line.items() if k not in ("steps", "stage")}
                _save(cfg, self.model, out / "best.zip")
            bar.set_postfix(score=f"{score[0]:.2f}", best=f"{state['best'][0]:.2f}")
            return s

        def checkpoint(self) -> None:
            (out / "checkpoints").mkdir(exist_ok=True)
            _save(cfg, self.model, out / "checkpoints" / "latest.zip")
            state["num_timesteps"] = self.num_timesteps
            _write_json(out / "state.json", state)

    return Progress(), EvalAndCheckpoint()


def _driver(cfg: PolicyTrainConfig, model):
    """The model as a ``control.policies.Policy``: the learned correction on its own teacher when residual, the
    teacher under the learned knobs with knobs."""
    from .policies import SB3Policy

    learned = SB3Policy(model, cfg.algo, cfg.observation, _file_layout(cfg))
    if cfg.residual:
        from .residual import ResidualPolicy

        return ResidualPolicy(learned, _layout(cfg), cfg.residual_scale)
    if cfg.knobs:
        from .knob_policy import KnobsPolicy

        return KnobsPolicy(learned, _layout(cfg))
    return learned


def _save(cfg: PolicyTrainConfig, model, path: Path) -> None:
    from .policies import save_policy

    save_policy(model, path, _file_layout(cfg), cfg.residual_scale if cfg.residual else None)


def _file_layout(cfg: PolicyTrainConfig) -> str:
    """The layout id a policy file of the run records: the env's, with ``+teacher`` for a residual policy and
    ``+knobs`` for a knob policy."""
    from .knob_policy import knobs_layout
    from .residual import residual_layout

    if cfg.residual:
        return residual_layout(_layout(cfg))
    return knobs_layout(_layout(cfg)) if cfg.knobs else _layout(cfg)


def _layout(cfg: PolicyTrainConfig) -> str:
    """The observation layout of the run's envs: the pixels baseline's, or v2 (the route block)
    when it trains in the navigation worlds, else v1."""
    from .pixels import PIXEL_LAYOUT_ID

    if cfg.observation == "pixels":
        return PIXEL_LAYOUT_ID
    # with a navigation stage the policy reads the route everywhere: the straight stages then say "follow the lane"
    reads_route = cfg.suite_envs or any(stage_reads_route(s) for s in cfg.stages)
    return LAYOUT_V2_ID if reads_route else LAYOUT_ID


def _eval_stage(cfg: PolicyTrainConfig) -> str:
    """The world the held-out validation episodes drive: the full navigation town for a route-reading
    policy, else the full straight town."""
    return "townnav" if _layout(cfg) == LAYOUT_V2_ID else "town"


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".partial")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def train_policy(cfg: PolicyTrainConfig, resume: bool = False, progress: bool = True) -> dict:
    """Train (or, with ``resume``, continue) a policy run in ``cfg.out_dir``; returns the result summary.

    ``state.json`` is written before anything else, so a run stopped at any point can be resumed: in
    its warm start (from the last finished round, ``warm_start``), in RL (from ``checkpoints/latest.zip``,
    losing at most ``checkpoint_every_steps``), or after its last step (the final evaluation and
    files are written then). Resuming a finished run returns its result."""
    import torch
    from tqdm import tqdm

    torch.set_num_threads(1)  # the envs own the other cores; a small MLP gains nothing from threads
    out = Path(cfg.out_dir)
    state_path = out / "state.json"
    if resume:
        if not state_path.is_file():
            raise FileNotFoundError(f"no run to resume in {str(out)!r} (no state.json: it stopped before it started)")
        state = {"phase": "rl", **json.loads(state_path.read_text())}  # runs from before phases were recorded were in RL
        if state.get("layout", _file_layout(cfg)) != _file_layout(cfg):
            raise ConfigError(f"run {str(out)!r} trains a policy on {state['layout']}; its config.yaml now gives "
                              f"{_file_layout(cfg)}: restore the run's config.yaml or start a new run")
        if state["phase"] == "rl" and not (out / "checkpoints" / "latest.zip").is_file():
            raise FileNotFoundError(f"no checkpoint to resume in {str(out)!r} (checkpoints/latest.zip)")
        if state["phase"] == "done" and (out / "result.json").is_file():
            return {**json.loads((out / "result.json").read_text()), "note": "this run had already finished"}
    else:
        if out.exists() and any(out.iterdir()):
            raise FileExistsError(f"run folder {str(out)!r} exists and is not empty; choose another out_dir or resume it")
        out.mkdir(parents=True, exist_ok=True)
        save_yaml(cfg, out / "config.yaml")
        state = {"num_timesteps": 0, "last_eval": 0, "last_checkpoint": 0, "best": None, "best_steps": None,
                 "stage": cfg.stages[0], "warm_start": None, "layout": _file_layout(cfg),
                 "phase": "start"}  # start: the model is built (and warm-started) before RL
        _write_json(state_path, state)
    t0 = time.perf_counter()
    if harvested_stages(cfg) and not (out / FAILURES_FILE).is_file():  # written whole; a cut harvest resumes from its journal
        harvest_failures(cfg, out / FAILURES_FILE, progress)
    bounds = np.cumsum([round(f * cfg.total_steps) for f in cfg.stage_fractions])
    bar = tqdm(total=int(bounds[-1]), initial=min(int(state["num_timesteps"]), int(bounds[-1])), desc=f"train {cfg.algo}",
               unit="step", disable=not progress, mininterval=2.0)
    model = eval_cb = callbacks = None
    for i, stage in enumerate(cfg.stages):
        if state["num_timesteps"] >= bounds[i]:
            continue
        state["stage"] = stage
        env = _vec_env(cfg, stage)
        if model is None:
            model, callbacks, eval_cb = _start(cfg, out, state, env, bar, progress)
        else:
            model.set_env(env)
        model.learn(int(bounds[i] - model.num_timesteps), callback=callbacks, reset_num_timesteps=False,
                    tb_log_name=cfg.algo)
        state["num_timesteps"] = int(model.num_timesteps)
        eval_cb.checkpoint()  # a run stopped between stages (or after the last) resumes without repeating one
        env.close()
    bar.close()
    if model is None:  # stopped after its last step, before the final evaluation: finish it
        model, _, eval_cb = _start(cfg, out, state, None, bar, progress)
    eval_cb.evaluate_now(record=False)
    eval_cb.checkpoint()
    _save(cfg, model, out / "final.zip")
    # best.zip's validation (a run resumed from before session 26 has only the selection score: the town's then)
    best = state.get("best_validation") or {"driving_score": state["best"][0], "success_rate": state["best"][1]}
    result = {"out_dir": str(out), "steps": int(model.num_timesteps), "best_driving_score": best["driving_score"],
              "best_success_rate": best["success_rate"], "best_steps": state["best_steps"], "warm_start": state["warm_start"],
              "best_validation": best,
              "wall_s_this_session": round(time.perf_counter() - t0, 1)}
    if harvested_stages(cfg):
        from .failure_starts import load_starts

        starts, routes = load_starts(out / FAILURES_FILE)
        result["failure_starts"] = {stage: f"{sum(s.stage == stage for s in starts)} of {n} teacher routes failed"
                                    for stage, n in routes.items()}
    _write_json(out / "result.json", result)
    state["phase"] = "done"
    _write_json(state_path, state)
    return result


_HARVEST_ENVS: dict = {}  # per process: a harvest route's world (its repr less the seed) -> env, teacher's prefix


@dataclass(frozen=True)
class _HarvestRoute:
    """One training route of a run's harvest: a unit of ``common.units``."""

    cfg: PolicyTrainConfig
    stage: str
    seed: int

    def world(self) -> str:
        """What the route's outcome depends on besides its seed: not where the run folder lies or how its envs are
        spread (a resume from a moved folder or with ``--ray`` finds the journal's routes)."""
        c = self.cfg
        return (f"{self.stage}, {_harvest_world(c)}, layout={_layout(c)}, reward={c.reward}, residual={c.on_teacher}, "
                f"lead_s={c.failure_lead_s}")

    def __repr__(self) -> str:  # the journal's key (``common.units.journaled``)
        return f"_HarvestRoute({self.seed}, {self.world()})"


def _harvest_route(route: _HarvestRoute):
    """One training route's teacher drive, in this process's env of the run's stage (built once): its failure start
    or None. Episodes are seeded, so the result does not depend on which process drives it."""
    from .failure_starts import TeacherPrefix, route_failure

    key = route.world()
    if key not in _HARVEST_ENVS:
        _HARVEST_ENVS.clear()  # one run's env at a time
        _HARVEST_ENVS[key] = (_env_fn(route.cfg, route.stage, 0, replay=False)(), TeacherPrefix(route.cfg.on_teacher))
    env, prefix = _HARVEST_ENVS[key]
    return route_failure(env, prefix, route.stage, route.seed, route.cfg.failure_lead_s)


def _harvest_world(cfg: PolicyTrainConfig) -> dict:
    """What a harvest's starts depend on besides the stage and the teacher's code."""
    # the two older profiles keep the boolean older harvests were written with
    noise = cfg.noise if isinstance(cfg.noise, bool) else {"measured": True, "none": False}.get(cfg.noise, cfg.noise)
    return {"route_length_m": float(cfg.route_length_m), "noise": noise}


def harvest_failures(cfg: PolicyTrainConfig, path: Path, progress: bool = True) -> dict[str, int]:
    """The run's failure starts, written to ``path``: those of ``cfg.failure_starts_from`` (earlier runs' harvests
    of the same world) and, with ``cfg.failure_routes``, the teacher driven on that many training routes of each
    harvested stage, in the run's own training envs, over ``cfg.eval_workers`` processes. Returns failures per
    stage."""
    from tqdm import tqdm

    from common.units import in_order, journaled, local_units

    from .failure_starts import load_starts, save_starts

    stages = harvested_stages(cfg)
    starts, routes = [], {}
    for f in cfg.failure_starts_from:  # their world was checked with the config
        more, driven = load_starts(f)
        starts += [s for s in more if s.stage in stages]
        for stage, n in driven.items():
            if stage in stages:
                routes[stage] = routes.get(stage, 0) + n
    journal = Path(path).parent / HARVEST_JOURNAL
    for k, stage in enumerate(stages if cfg.failure_routes else ()):
        seeds = [int(s) for s in np.random.default_rng([cfg.seed, k, 0x4A7]).integers(0, VALIDATION_SEED0, cfg.failure_routes)]
        # in the order the harvest kept them when each worker drove every eval_workers-th route (the replay's draws
        # index this list: the same config keeps training on the same starts)
        units = [_HarvestRoute(cfg, stage, seed) for w in range(cfg.eval_workers) for seed in seeds[w::cfg.eval_workers]]
        bar = tqdm(total=len(units), desc=f"teacher failures ({stage})", unit="route", disable=not progress)
        with local_units(cfg.eval_workers) as pool:
            found = in_order(journaled(pool, journal)(_harvest_route, units), len(units), lambda _: bar.update(1))
        bar.close()
        starts += [s for s in found if s is not None]
        routes[stage] = routes.get(stage, 0) + len(seeds)
    save_starts(path, starts, routes, _harvest_world(cfg))
    shutil.rmtree(journal, ignore_errors=True)  # the file holds it all now
    return {stage: sum(s.stage == stage for s in starts) for stage in routes}


def _start(cfg: PolicyTrainConfig, out: Path, state: dict, env, bar, progress: bool):
    """The model (new, through the warm start, or the latest checkpoint's) and its callbacks."""
    from .policies import save_policy

    starting = state["phase"] == "start"
    if starting:
        model = _new_model(cfg, env, out / "tb")
        if cfg.on_teacher:
            from .residual import zero_correction

            zero_correction(model)  # the run starts as its teacher (a zero correction, or identity knobs)
        if cfg.warm_start_steps:
            state["warm_start"] = warm_start(cfg, model, out, progress)
            save_policy(model, out / "warm_start.zip", _layout(cfg))
    else:
        model = _algo_class(cfg).load(out / "checkpoints" / "latest.zip", env=env, device=cfg.device)
        model.tensorboard_log = str(out / "tb")
    progress_cb, eval_cb = _callbacks(cfg, out, state, bar)
    extra = _finetune_callbacks(cfg, out, model, starting) if env is not None else []  # none to finish a run
    eval_cb.model = model  # outside learn() the callback still needs the model and its step count
    eval_cb.num_timesteps = model.num_timesteps
    if starting:
        if cfg.warm_start_steps or cfg.on_teacher:
            eval_cb.evaluate_now(record=False)  # score the cloned policy (or the teacher) before any RL, as the first best
        state["phase"] = "rl"
        eval_cb.checkpoint()  # from here a resume starts from checkpoints/latest.zip
    return model, [progress_cb, eval_cb, *extra], eval_cb


def _finetune_callbacks(cfg: PolicyTrainConfig, out: Path, model, starting: bool) -> list:
    """The reward-term log and the regularisers the config turns on (``control.finetune``). The KL
    reference is the warm start: the model itself when the run starts, ``warm_start.zip`` on resume."""
    from . import finetune

    callbacks = [finetune.RewardTerms(), finetune.CurriculumLog()]
    if cfg.residual:
        callbacks.append(finetune.CorrectionSize())
    if cfg.knobs:
        callbacks.append(finetune.KnobsLog())
    per_update = cfg.n_steps * cfg.n_envs
    if cfg.value_warmup_steps:
        callbacks.append(finetune.ValueWarmup(cfg.value_warmup_steps))
    if cfg.kl_coef:
        reference = model.policy
        if not starting:
            from stable_baselines3 import PPO

            reference = PPO.load(out / "warm_start.zip", device=cfg.device).policy
        callbacks.append(finetune.KLToWarmStart(reference, cfg.kl_coef, cfg.kl_decay, per_update))
    if cfg.bc_coef:
        with np.load(out / "warm_start" / "data.npz") as z:
            data = {"obs": z["obs"], "actions": z["actions"]}
        callbacks.append(finetune.CloneSteps(data, cfg.bc_coef, cfg.bc_decay, cfg.bc_steps, per_update,
                                             cfg.learning_rate, seed=cfg.seed))
    return callbacks
