"""The control beside a residual policy's measured gain: a random correction of the same size (and beside a knob
policy's, ``control.knob_policy``: random knobs of the same size, built the same way).

A trained correction on the rule-based driver is judged against the driver alone, but any correction changes
timing, and on a town route a small change in timing flips some outcomes (a stand-off at a junction broken, a
walker met a second later). Session 23 measured it: the driver with a correction that learnt nothing scored
0.959 on the test routes, above the trained policy (0.932) and the driver (0.919). So a gain is only a gain
when it is above what a correction of the same size that knows nothing gives.

The control is the trained network with each command's row of its action head fed a random permutation of its
inputs (a deterministic, state-dependent correction unrelated to what RL learnt, as smooth as the learnt one),
rescaled so that its mean |output| on states the trained policy visits equals the trained one's, per command.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .numpy_actor import NumpyActor
from .policies import Policy, PolicyError
from .knob_policy import KnobsPolicy
from .residual import ResidualPolicy

STATE_SEEDS = (12345, 23456, 34567)  # training-range town routes the states are driven on (never a held-out seed)
STATE_ROUTE_M = 500.0


class _InputRecorder(Policy):
    """Passes the learned network's inputs through, keeping them."""

    def __init__(self, inner: Policy):
        self.inner, self.inputs, self.name = inner, [], inner.name

    def reset(self) -> None:
        self.inner.reset()

    def act(self, obs, frame=None):
        self.inputs.append(np.asarray(obs, np.float32).copy())
        return self.inner.act(obs, frame)

    def _act(self, obs):  # act() passes through
        raise NotImplementedError


def visited_states(path: str, seeds=STATE_SEEDS, route_length_m: float = STATE_ROUTE_M) -> np.ndarray:
    """The inputs of the policy in ``path``'s learned network (features + the teacher's command) along its own drives
    of ``seeds``' town routes (exact labels, no supervisor): [n, obs]."""
    from .evaluate import row_objects, run_episode

    env, policy = row_objects("ppo/labels", "townnav", route_length_m, str(path), None, False, "cpu")
    if not isinstance(policy, (ResidualPolicy, KnobsPolicy)):
        raise PolicyError(f"{str(path)!r} is not a correction on the rule-based driver or its knobs: a random "
                          "correction is the control of a residual or knob policy only")
    learned, recorder = policy.learned, _InputRecorder(policy.learned)
    policy.learned = recorder
    try:
        for seed in seeds:
            run_episode(env, policy, int(seed))
    finally:
        policy.learned = learned
    return np.stack(recorder.inputs)


@dataclass(frozen=True)
class CorrectionSize:
    """Per command [steer, accel], on the visited states."""

    learnt_mean_abs: tuple[float, float]
    control_mean_abs: tuple[float, float]
    correlation: tuple[float, float]  # learnt vs control output, per command (near 0: unrelated)
    states: int


def randomise_correction(model, states: np.ndarray, seed: int = 0) -> CorrectionSize:
    """Turn ``model`` (an SB3 PPO policy, in place) into the random control of itself (the module's doc)."""
    import torch

    def outputs() -> np.ndarray:
        actor = NumpyActor.from_sb3(model)
        if actor is None:
            raise PolicyError("the random correction needs a PPO MlpPolicy (an actor NumPy can copy)")
        return actor(states)

    learnt = outputs()
    head = model.policy.action_net
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        weight = head.weight.detach().clone()
        for i in range(weight.shape[0]):
            head.weight[i] = weight[i, torch.as_tensor(rng.permutation(weight.shape[1]))]
        raw = outputs()
        for i in range(weight.shape[0]):
            k = np.abs(learnt[:, i]).mean() / max(np.abs(raw[:, i]).mean(), 1e-9)
            head.weight[i] *= float(k)
            head.bias[i] *= float(k)
    control = outputs()
    corr = tuple(float(np.corrcoef(learnt[:, i], control[:, i])[0, 1]) if learnt[:, i].std() > 0 and control[:, i].std() > 0
                 else 0.0 for i in range(learnt.shape[1]))
    return CorrectionSize(tuple(float(v) for v in np.abs(learnt).mean(0)), tuple(float(v) for v in np.abs(control).mean(0)),
                          corr, len(states))
