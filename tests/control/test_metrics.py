"""control.metrics: episode_metrics, summarize and the driving score on hand-built episodes."""

import pytest

from control.metrics import EpisodeLog, episode_metrics, summarize
from sim.world import StepEvents


def _log(events: list[StepEvents], route_completion: float, end: str = "terminated", dt_s: float = 0.1,
         speeds: list[float] | None = None, steer: list[float] | None = None) -> EpisodeLog:
    """Feed ``events`` through ``EpisodeLog.add`` as the driving loop does; the route fraction grows evenly
    to ``route_completion``; ``end`` is how the last step ends: "terminated" or "truncated"."""
    log = EpisodeLog(dt_s=dt_s)
    n = len(events)
    for k, ev in enumerate(events):
        last = k == n - 1
        info = {"events": ev.as_dict(), "route_completion": route_completion * (k + 1) / n}
        log.add(info, (speeds or [10.0] * n)[k], ((steer or [0.0] * n)[k], 0.5),
                terminated=last and end == "terminated", truncated=last and end == "truncated")
    return log


def clean_success() -> EpisodeLog:  # 100 m, goal
    log = _log([StepEvents(progress_m=25.0)] * 3 + [StepEvents(progress_m=25.0, goal=True)], 1.0)
    log.interventions, log.red_light_holds = 2, 1
    log.aeb_activations = {"warning": 3, "partial": 1, "full": 1}  # the supervisor's stages entered
    return log


def collision() -> EpisodeLog:  # 30 m, then a car
    return _log([StepEvents(progress_m=10.0)] * 2 + [StepEvents(progress_m=10.0, collision="vehicle")], 0.3)


def red_light_run() -> EpisodeLog:  # 100 m to the goal, through one red light and over one solid line
    return _log([StepEvents(progress_m=25.0, solid_line=True), StepEvents(progress_m=25.0, red_light=True),
                 StepEvents(progress_m=25.0), StepEvents(progress_m=25.0, goal=True)], 1.0)


def timeout() -> EpisodeLog:  # 10 m in 5 steps of 0.5 s, out of time
    return _log([StepEvents(progress_m=2.0)] * 5, 0.1, end="truncated", dt_s=0.5,
                speeds=[0.0, 1.0, 3.0, 6.0, 10.0], steer=[0.0, 0.1, -0.1, 0.0, 0.0])


def partial_route() -> EpisodeLog:  # 40 m, then off the road
    return _log([StepEvents(progress_m=20.0), StepEvents(progress_m=20.0, off_road=True)], 0.4)


def test_clean_success():
    m = episode_metrics(clean_success())
    assert m["success"] and m["end"] == "goal"
    assert (m["route_completion"], m["driving_score"], m["distance_km"]) == (1.0, 1.0, 0.1)
    assert m["collisions"] == {"vehicle": 0, "pedestrian": 0, "static": 0}
    assert (m["off_road"], m["solid_line_crossings"], m["red_lights_run"]) == (0, 0, 0)
    assert (m["mean_speed_kmh"], m["mean_abs_jerk_m_s3"], m["mean_abs_steer_rate_1_s"]) == (36.0, 0.0, 0.0)
    assert (m["interventions"], m["interventions_red_light"], m["steps"], m["duration_s"]) == (2, 1, 4, 0.4)
    assert (m["warnings"], m["partial_brakes"], m["full_brakes"]) == (3, 1, 1)


def test_collision_scales_the_score_by_its_penalty():
    m = episode_metrics(collision())
    assert not m["success"] and m["end"] == "collision (vehicle)"
    assert m["collisions"] == {"vehicle": 1, "pedestrian": 0, "static": 0}
    assert m["driving_score"] == pytest.approx(0.3 * 0.6) and m["distance_km"] == 0.03


def test_red_light_run_reaches_the_goal_but_does_not_succeed():
    m = episode_metrics(red_light_run())
    assert m["end"] == "goal" and not m["success"]
    assert (m["red_lights_run"], m["solid_line_crossings"]) == (1, 1)
    assert m["driving_score"] == pytest.approx(0.7)  # the solid line costs nothing in the score


def test_penalties_multiply():
    log = _log([StepEvents(progress_m=5.0, red_light=True), StepEvents(progress_m=5.0, collision="pedestrian")], 0.5)
    assert episode_metrics(log)["driving_score"] == pytest.approx(0.5 * 0.7 * 0.5)
    log = _log([StepEvents(progress_m=5.0, collision="static")], 0.2)
    assert episode_metrics(log)["driving_score"] == pytest.approx(0.2 * 0.65)


def test_timeout_and_comfort():
    m = episode_metrics(timeout())
    assert m["end"] == "time limit" and not m["success"]
    assert (m["route_completion"], m["driving_score"], m["distance_km"], m["duration_s"]) == (0.1, 0.1, 0.01, 2.5)
    # speed 0, 1, 3, 6, 10 m/s every 0.5 s: second differences 1, 1, 1 m/s -> 1 / 0.5^2 = 4 m/s^3
    assert m["mean_abs_jerk_m_s3"] == 4.0
    # steer 0, 0.1, -0.1, 0, 0: mean |change| 0.1 per 0.5 s
    assert m["mean_abs_steer_rate_1_s"] == pytest.approx(0.2)
    assert m["mean_speed_kmh"] == pytest.approx(4.0 * 3.6)


def test_partial_route_off_road():
    m = episode_metrics(partial_route())
    assert m["end"] == "off road" and not m["success"] and m["off_road"] == 1
    assert m["driving_score"] == 0.4  # leaving the road ends the route; no penalty factor of its own


def test_summarize_rates_per_km():
    s = summarize([episode_metrics(f()) for f in (clean_success, collision, red_light_run, timeout, partial_route)])
    km = 0.1 + 0.03 + 0.1 + 0.01 + 0.04
    assert s["episodes"] == 5 and s["distance_km"] == 0.28
    assert s["success_rate"] == 0.2
    assert s["route_completion"] == pytest.approx((1 + 0.3 + 1 + 0.1 + 0.4) / 5)
    assert s["driving_score"] == pytest.approx((1 + 0.18 + 0.7 + 0.1 + 0.4) / 5)
    assert s["collisions_per_km"] == round(1 / km, 3) == 3.571
    assert s["collisions_per_km_by_kind"] == {"vehicle": 3.571, "pedestrian": 0.0, "static": 0.0}
    assert (s["off_road_per_km"], s["solid_line_per_km"], s["red_lights_run"]) == (3.571, 3.571, 1)
    assert (s["interventions"], s["interventions_per_km"], s["interventions_red_light"]) == (2, round(2 / km, 3), 1)
    # the supervisor's activations per km: 3 warnings, 1 partial and 1 full brake in 0.28 km
    assert (s["warnings_per_km"], s["partial_brakes_per_km"], s["full_brakes_per_km"]) == (10.714, 3.571, 3.571)


def test_summarize_edge_cases():
    assert summarize([]) == {"episodes": 0}
    standing = episode_metrics(_log([StepEvents()] * 3, 0.0, end="truncated"))
    s = summarize([standing])
    assert s["distance_km"] == 0.0 and s["collisions_per_km"] is None and s["driving_score"] == 0.0


def _dict_log(events: list[dict], route_completion: float, end: str = "terminated") -> EpisodeLog:
    """Like ``_log`` with plain event dicts: the navigation towns' events (stop signs, wrong lane,
    off route) and the scenario suite's (min speed) beside the straight town's."""
    log = EpisodeLog(dt_s=0.1)
    for k, ev in enumerate(events):
        last = k == len(events) - 1
        info = {"events": {"progress_m": 25.0, **ev}, "route_completion": route_completion * (k + 1) / len(events)}
        log.add(info, 10.0, (0.0, 0.5), terminated=last and end == "terminated", truncated=False)
    return log


def test_a_stop_sign_run_and_a_slow_section_take_carlas_factors():
    m = episode_metrics(_dict_log([{"stop_sign": True}, {"min_speed_ratio": 0.5}, {}, {"goal": True}], 1.0))
    assert not m["success"] and m["end"] == "goal" and m["stop_signs_run"] == 1
    assert m["driving_score"] == pytest.approx(0.8 * (0.7 + 0.3 * 0.5))  # 0.68


def test_driving_against_the_traffic_shrinks_the_completion_it_is_scored_on():
    m = episode_metrics(_dict_log([{"wrong_lane": True}, {}, {}, {"goal": True}], 1.0))
    assert m["wrong_lane_m"] == 25.0 and m["route_completion"] == 1.0
    assert m["driving_score"] == pytest.approx(0.75)  # a quarter of the 100 m against the traffic


def test_a_wrong_turn_ends_the_route_with_the_completion_so_far():
    m = episode_metrics(_dict_log([{}, {"off_route": True}], 0.4))
    assert not m["success"] and m["end"] == "off route" and m["off_route"] == 1
    assert m["driving_score"] == pytest.approx(0.4)
    s = summarize([m, episode_metrics(clean_success())])
    assert s["off_route_per_km"] == pytest.approx(1 / 0.15, abs=1e-3) and s["stop_signs_run_per_km"] == 0.0
