"""The rule-based driver's overtake (``control.overtake``): it passes a stationary obstacle and a lane
closure in the suite with labels, waits while the lane to pass in is taken and then goes, and never
starts for a leader that still moves."""

import dataclasses
import math

import numpy as np
import pytest

from common.vocab import EGO_LENGTH_M
from control.envs import make_suite_env
from control.features import K_OBJECTS, OBJECT_FIELDS, Decoded
from control.overtake import IDLE, OUT, Overtake, Users
from control.policies import RuleBasedPolicy
from control.suite_eval import run_case, suite_cases
from control.supervisor import SafetySupervisor

WIDTH_M = 3.5


def _decoded(speed_m_s: float = 0.0) -> Decoded:
    return Decoded(speed_m_s, 0.0, 13.9, np.zeros(2), True, 0.0, 0.0, 0.0, WIDTH_M, "none", math.inf,
                   np.zeros((K_OBJECTS, len(OBJECT_FIELDS))))


def _users(*rows) -> Users:
    """Rows (x from the ego's centre, y, absolute vx, vy) of cars."""
    a = np.array(rows, np.float64).reshape(-1, 4)
    n = len(a)
    return Users(a[:, 0], a[:, 1], a[:, 2], a[:, 3], np.full(n, 4.6), np.full(n, 1.9), np.ones(n, bool))


def _drive(overtake: Overtake, steps: int, users_at) -> list[str]:
    """Step a standing ego ``steps`` times (users_at(k) -> Users); the phase after each step."""
    phases = []
    for k in range(steps):
        overtake.update(_decoded(), users_at(k), None, 13.0)
        phases.append(overtake.phase)
    return phases


AHEAD_M = 12.0 + EGO_LENGTH_M / 2  # a car standing 12 m ahead of the front bumper, in the ego's lane


def test_a_car_standing_in_the_lane_is_passed_once_it_has_stood_two_seconds():
    o = Overtake()
    phases = _drive(o, 60, lambda k: _users((AHEAD_M, 0.0, 0.0, 0.0)))
    first_out = phases.index(OUT)
    assert first_out * o.cfg.dt_s == pytest.approx(o.cfg.stationary_for_s, abs=0.06)  # 2 s after first seen
    assert o.profile.lat1_m == pytest.approx(WIDTH_M)  # out to the next lane's centre
    assert o.aim_y_m(8.0) > 0.0  # the steering aims left


def test_no_overtake_for_a_slow_leader_that_still_moves():
    o = Overtake()
    # 1 m/s: slow, but above the 0.5 m/s a standing obstacle has; it creeps away from the standing ego
    phases = _drive(o, 200, lambda k: _users((AHEAD_M + 1.0 * k * o.cfg.dt_s, 0.0, 1.0, 0.0)))
    assert set(phases) == {IDLE} and o.stretch is None


def test_a_car_that_stopped_in_front_is_a_queue_not_an_obstacle():
    o = Overtake()
    # seen driving at 5 m/s for 1.5 s (longer than ``moving_for_s``), then standing for 10 s: traffic that
    # stopped (a queue), never passed (a patience after which it counted as an obstacle was tried on 2026-12-04
    # and withdrawn: from the models, on town seed 900011, the car then tried to pass a queued car from 5 m behind,
    # aborted twice and left the road)
    moving = [_users((AHEAD_M + 5.0 * (30 - k) * o.cfg.dt_s, 0.0, 5.0, 0.0)) for k in range(30)]
    phases = _drive(o, 230, lambda k: moving[k] if k < 30 else _users((AHEAD_M, 0.0, 0.0, 0.0)))
    assert set(phases) == {IDLE}


def test_passing_a_closure_seen_in_parts_the_car_stays_out_until_its_last_cone():
    """From the models a closure's cones are boxed only within ~25 m: passing, each new cone along the home
    lane's left edge carries the stretch on at once, not only those watched standing for 2 s (the car turned
    back in after the first part of LaneClosure's 40 m, into the rest)."""
    o = Overtake()
    cones = [(AHEAD_M + 2.0 * k, -1.4 + 0.45 * k) for k in range(7)] + [(AHEAD_M + 12.0 + 5.0 * k, 1.45)
                                                                      for k in range(1, 7)]

    def seen(s_m: float, range_m: float) -> Users:  # cones as the models report them: the smallest vehicle class
        a = np.array([(x - s_m, y, 0.0, 0.0) for x, y in cones if 0.0 < x - s_m < range_m]).reshape(-1, 4)
        n = len(a)
        return Users(a[:, 0], a[:, 1], a[:, 2], a[:, 3], np.full(n, 2.2), np.full(n, 0.9), np.ones(n, bool))

    v, s = 10.0, 0.0
    for k in range(400):  # 3 s standing 10 m behind the first cone, then on at 36 km/h, the cones seen within 18 m
        moving = k > 60
        o.update(_decoded(v if moving else 0.0), seen(s, 18.0 if moving else 20.0), None, 13.0)
        s += v * o.cfg.dt_s if moving else 0.0
        if o.phase == "back":
            break
    assert o.phase == "back" and s - EGO_LENGTH_M / 2 > cones[-1][0]  # back in only past the last cone


def test_a_parked_car_read_fast_for_a_few_frames_and_noisy_is_still_passed():
    """From the models a track's first readings carry a wrong speed (no relative speed yet, a range jump) and
    a parked car's speed then reads -1.6..+0.4 m/s frame to frame: it is still an obstacle (ParkedObstacle
    from the models stood behind the car for the whole case)."""
    o = Overtake()
    rng = np.random.default_rng(0)
    phases = []
    for k in range(100):  # the ego at 25 km/h towards a car parked 40 m ahead
        x = 40.0 - 7.0 * k * o.cfg.dt_s
        v = 7.0 if k < 8 else float(rng.uniform(-1.6, 0.4))  # 0.4 s read as driving away at the ego's speed
        o.update(_decoded(7.0), _users((x, 0.0, v, 0.0)), None, 13.0)
        phases.append(o.phase)
    assert OUT in phases and not o.tracks[0].moved
    gap_m = 40.0 - 7.0 * phases.index(OUT) * o.cfg.dt_s - EGO_LENGTH_M
    assert gap_m > 12.0  # it moves out with room to pass (the models case stopped 3 m behind the car)


def test_the_manoeuvre_keeps_its_own_place_when_the_seen_lane_follows_the_car():
    """Moving out, the lane estimate from the models followed the car (its offset stayed near 0 while the car
    crossed into the next lane): the manoeuvre's place comes from the car's own motion then, not from it."""
    o = Overtake()
    _drive(o, 60, lambda k: _users((AHEAD_M, 0.0, 0.0, 0.0)))
    assert o.phase == OUT
    lat_true, heading = 0.0, 0.15  # the car heads left at 0.15 rad (about 9 degrees) for 2 s at 5 m/s
    for k in range(40):
        lat_true += 5.0 * math.sin(heading) * o.cfg.dt_s
        f = _decoded(5.0)
        f = Decoded(**{**f.__dict__, "lane_offset_m": 0.1 * math.sin(k), "heading_error_rad": 0.0,
                       "yaw_rate_rad_s": heading / o.cfg.dt_s if k == 0 else 0.0})
        o.update(f, _users((AHEAD_M - 5.0 * k * o.cfg.dt_s, 0.0, 0.0, 0.0)), None, 13.0)
    assert o.lat_m == pytest.approx(lat_true, abs=0.1)  # ~1.5 m left, where the seen lane says ~0
    assert o.aim_y_m(8.0) < o.profile.lat1_m - lat_true + 0.5  # it does not steer on as if still in its lane


def test_waits_while_the_lane_to_pass_in_is_taken_then_goes():
    o = Overtake()
    beside_x = EGO_LENGTH_M / 2 + 3.0  # a car standing in the next lane, just ahead of the ego

    def users(k):
        if k < 100:  # stands there for 5 s ...
            return _users((AHEAD_M, 0.0, 0.0, 0.0), (beside_x, WIDTH_M, 0.0, 0.0))
        # ... then drives off at 10 m/s
        return _users((AHEAD_M, 0.0, 0.0, 0.0), (beside_x + 10.0 * (k - 100) * o.cfg.dt_s, WIDTH_M, 10.0, 0.0))

    phases = _drive(o, 200, users)
    assert set(phases[:100]) == {IDLE} and o.cfg.stationary_for_s < 5.0  # it had stood long enough: waiting
    assert OUT in phases[100:]


def test_an_oncoming_car_holds_the_overtake_until_it_has_passed():
    o = Overtake()

    def users(k):  # an oncoming car at 10 m/s in the next lane, 80 m ahead at the start
        x = 80.0 - 10.0 * k * o.cfg.dt_s
        return _users((AHEAD_M, 0.0, 0.0, 0.0), (x, WIDTH_M, -10.0, 0.0))

    phases = _drive(o, 240, users)
    first_out = phases.index(OUT)
    # not before its rear has passed the ego's (8 s for its front to reach the ego, then a car's length)
    assert first_out * o.cfg.dt_s > (80.0 - EGO_LENGTH_M / 2) / 10.0


@pytest.mark.parametrize("far_x_m, goes", [(50.0, True), (20.0, False)])
def test_a_car_parked_at_the_far_kerb_closes_the_lane_only_where_the_pass_meets_it(far_x_m, goes):
    """A car parked at the far kerb reaching 1.2 m into the lane to pass in: beside the pass it leaves too little
    room and the car waits; 50 m on, where the car is on its way back into its lane, it passes on its right
    (validation route 800207: the driver stood behind a parked car for the whole route for one 45 m on)."""
    o = Overtake()
    far_kerb = WIDTH_M + WIDTH_M / 2 + 0.95 - 1.2  # its centre: its right side 1.2 m into the lane [m]
    phases = _drive(o, 60, lambda k: _users((AHEAD_M, 0.0, 0.0, 0.0), (far_x_m, far_kerb, 0.0, 0.0)))
    assert (OUT in phases) is goes


@pytest.mark.slow
def test_the_driver_passes_parked_obstacle_and_lane_closure_at_the_short_sweep():
    env = make_suite_env()
    policy = SafetySupervisor(RuleBasedPolicy())
    for case in suite_cases(["ParkedObstacle", "LaneClosure"], "short"):
        r = run_case(env, policy, case)
        assert r["passed"], f"{case.label()}: {r['end']}, hit {r['collision']}"
        assert r["collision"] is None and r["goal"]


def test_the_driver_passes_a_parked_obstacle_without_the_supervisor_braking():
    env = make_suite_env()
    policy = SafetySupervisor(RuleBasedPolicy())
    case = suite_cases(["ParkedObstacle"], "defaults")[0]
    r = run_case(env, policy, case)
    assert r["passed"] and r["interventions"] == 0


def test_the_stretch_stays_known_while_the_car_brakes_towards_it():
    """The in-lane clock starts within the lane estimate's reach (4.5 s at the ego's speed) and must not restart
    when braking shrinks that reach faster than the car closes in: the stretch flickered off for seconds."""
    o = Overtake()
    s_ego, v, found = 0.0, 14.0, []
    for k in range(120):
        v = max(14.0 - 6.0 * k * o.cfg.dt_s, 4.0)  # braking hard at 6 m/s^2 to 4 m/s
        s_ego += v * o.cfg.dt_s
        o.update(_decoded(v), _users((62.0 - s_ego, -0.5, 0.0, 0.0)), None, 13.0)
        found.append(o.stretch is not None)
    first = found.index(True)
    assert first * o.cfg.dt_s <= o.cfg.stationary_for_s + 0.1
    assert all(found[first:])


def _stream(o: Overtake, x_rears: tuple[float, ...], v_m_s: float) -> Users:
    """A cone standing in the home lane 24 m ahead and cars of a stream at ``v_m_s`` in the lane to the left."""
    rows = [(24.0 + EGO_LENGTH_M / 2, 0.0, 0.0, 0.0)] + [(x, WIDTH_M, v_m_s, 0.0) for x in x_rears]
    return _users(*rows)


def test_merging_into_a_stream_keeps_its_speed_and_gap_while_moving_over():
    o = Overtake()
    v = 5.56  # 20 km/h, the stream's speed; its cars 11.1 m apart bumper to bumper, the ego beside the middle of a gap
    gap_rears = (-EGO_LENGTH_M / 2 - 3.3 - 4.6, EGO_LENGTH_M / 2 + 3.3)
    for _ in range(70):  # it stood 2 s and was in the lane 1 s: an obstacle
        o.update(_decoded(v), _stream(o, gap_rears, v), None, 13.0)
    assert o.phase == OUT  # the 3.3 m each side a zipper merge leaves are enough (a 3 m floor was not, in practice)
    cap = o.speed_cap_m_s()
    assert math.isfinite(cap) and abs(cap - v) < 0.5  # moving over at the stream's speed, not the speed limit
    f = _decoded(v)
    assert o.keeps_gap(gap_rears[1], WIDTH_M, v, f)  # the car ahead in the stream: its gap is the cap's, not the IDM's
    assert not o.keeps_gap(gap_rears[1], 0.0, v, f)  # ... not a car in the home lane


def test_waiting_to_merge_holds_at_the_zip_point_only_at_braking_distance():
    o = Overtake()
    v = 5.56
    behind = (-EGO_LENGTH_M / 2 - 1.0 - 4.6, EGO_LENGTH_M / 2 + 1.0)  # a gap too short to take: it waits
    for _ in range(70):
        o.update(_decoded(v), _stream(o, behind, v), None, 13.0)
    assert o.merging and o.phase == IDLE
    f = _decoded(v)
    assert o.passes(24.0 + EGO_LENGTH_M / 2, 0.0, 0.4, f)  # the cone: no early IDM braking for it ...
    assert o.hold_gap_m() == math.inf  # ... nor a hold 24 m before it at 20 km/h
    near = v * v / (2 * o.cfg.zip_brake_m_s2)
    o2 = Overtake()
    for _ in range(70):
        o2.update(_decoded(v), _users((near + EGO_LENGTH_M / 2, 0.0, 0.0, 0.0), *[(x, WIDTH_M, v, 0.0) for x in behind]),
                  None, 13.0)
    assert o2.merging and o2.hold_gap_m() == pytest.approx(near, abs=0.3)  # within braking distance: hold there


def test_the_driver_merges_into_the_slowest_densest_stream_of_the_short_sweep():
    env = make_suite_env()
    policy = SafetySupervisor(RuleBasedPolicy())
    case = next(c for c in suite_cases(["MergeSlowTraffic"], "short")
                if dict(c.params) == {"ego_kmh": 80.0, "stream_kmh": 20.0, "gap_s": 2.0})
    r = run_case(env, policy, case)
    assert r["passed"] and r["collision"] is None and r["interventions"] == 0


@pytest.mark.slow
def test_the_driver_merges_at_every_point_of_the_short_sweep():
    """Alone at every point; under the supervisor (as it drives by default) at the densest stream's two points,
    where its brakes and the merge's gap choice meet (the whole sweep took ~40 s of the suite's 10 minutes)."""
    env = make_suite_env()
    cases = suite_cases(["MergeSlowTraffic"], "short")
    densest = [c for c in cases if dict(c.params)["stream_kmh"] == 20 and dict(c.params)["gap_s"] == 2]
    assert len(densest) == 2
    for policy, some in ((RuleBasedPolicy(), cases), (SafetySupervisor(RuleBasedPolicy()), densest)):
        for case in some:
            r = run_case(env, policy, case)
            assert r["passed"], f"{case.label()}: {r['end']}, hit {r['collision']}"


def test_a_car_parked_askew_that_the_speed_control_stops_for_is_passed():
    """Its nearest point lies just outside the lane (1.70 m right of the centre of a 3.5 m lane), its front
    reaches in: the speed control's corridor has it, so the car stopped behind it; the manoeuvre must count it
    too (TownNav seed 900002, 300 m: it stood there until the time limit)."""
    o = Overtake()
    _drive(o, 1, lambda k: _users((AHEAD_M, -1.70, 0.0, 0.0)))
    assert not o._blocks_home(o.tracks[0]) and o.tracks[0].in_path
    phases = _drive(o, 60, lambda k: _users((AHEAD_M, -1.70, 0.0, 0.0)))
    assert OUT in phases


def test_a_road_user_gone_from_view_ahead_is_forgotten():
    """A car seen driving off ahead and then no longer reported where the camera looks is not dead-reckoned on
    for a minute: such a track stood in the lane as traffic and hid a parked car from the stretch search."""
    o = Overtake()
    parked = (20.0 + EGO_LENGTH_M / 2, 0.0, 0.0, 0.0)

    def users(k):
        if k < 10:  # seen for 0.5 s driving away at 5 m/s, 14 m ahead, then gone
            return _users(parked, (14.0 + 5.0 * k * o.cfg.dt_s, 0.0, 5.0, 0.0))
        return _users(parked)

    phases = _drive(o, 100, users)
    assert len(o.tracks) == 1
    assert phases.index(OUT) * o.cfg.dt_s <= 0.5 + o.cfg.forget_in_view_s + 0.1


def test_a_car_in_the_next_lane_too_far_to_judge_is_taken_as_oncoming():
    """From the models a car beyond the frame's sure range may read as driving away while it comes on: the car
    does not pull out past the obstacle on that reading (with labels, sure range inf, the reading holds)."""

    def phases(sure_range_m: float) -> list[str]:
        o = Overtake()

        def users(k):
            u = _users((AHEAD_M, 0.0, 0.0, 0.0), (50.0 + 8.0 * k * o.cfg.dt_s, WIDTH_M, 8.0, 0.0))
            return dataclasses.replace(u, sure_range_m=sure_range_m)

        return _drive(o, 60, users)

    assert OUT in phases(math.inf)  # a car driving away ahead in the next lane leaves room
    assert set(phases(35.0)) == {IDLE}  # ... unless it is too far to tell which way it goes


def test_a_row_of_cones_read_as_moving_is_still_passed():
    """The cones of a lane closure from the models: their boxes are 5-8 px tall and their fitted velocity swings
    by metres per second (a car read so is traffic for good). Reported as cones they stand (their class): the
    overtake pulls out once they have been in the lane for ``in_lane_for_s``, without the 2 s of watching a car
    standing there needs."""
    from common.vocab import TRAFFIC_CONE_CLASS
    from control.overtake import users_from_frame
    from perception.types import Detections, LaneEstimate, PerceptionFrame

    rng = np.random.default_rng(0)

    def users(k: int) -> Users:
        n = 4
        pos = np.array([[AHEAD_M - 2.0 + 5.0 * j, 1.2 - 0.4 * j] for j in range(n)], np.float32)
        vel = np.concatenate([rng.uniform(-3.0, 3.0, (n, 1)), rng.uniform(-1.0, 1.0, (n, 1))], 1).astype(np.float32)
        dets = Detections(np.full((n, 4), np.nan, np.float32), np.ones(n, np.float32),
                          np.full(n, TRAFFIC_CONE_CLASS, np.int64), np.arange(n, dtype=np.int64),
                          np.hypot(pos[:, 0], pos[:, 1]), pos, vel)
        u = users_from_frame(PerceptionFrame(k, k * 0.05, "t", (160, 320), dets, LaneEstimate(0.0, 0.0, 0.0, WIDTH_M, 1.0)),
                             0.0)
        assert np.all(u.vx_m_s == 0.0) and np.all(u.vy_m_s == 0.0) and np.all(u.vehicle)
        return u

    o = Overtake()
    phases = _drive(o, 60, users)
    assert OUT in phases and phases.index(OUT) * o.cfg.dt_s == pytest.approx(o.cfg.in_lane_for_s, abs=0.06)
    assert o.cfg.in_lane_for_s < o.cfg.stationary_for_s


def _cones_and(*cars, cone_lat=(0.0,)) -> Users:
    """Standing cones at AHEAD_M (one per ``cone_lat``, 5 m apart) and cars (x, y, vx, vy)."""
    cones = [(AHEAD_M + 5.0 * j, lat, 0.0, 0.0) for j, lat in enumerate(cone_lat)]
    a = np.array([*cones, *cars], np.float64).reshape(-1, 4)
    n, m = len(a), len(cones)
    static = np.arange(n) < m
    return Users(a[:, 0], a[:, 1], a[:, 2], a[:, 3], np.where(static, 0.5, 4.6), np.where(static, 0.5, 1.9),
                 np.ones(n, bool), static=static)


def test_an_oncoming_car_passing_beside_a_cone_never_takes_its_track():
    """An oncoming car passes a closure 2.5 m off its cones: matched with a cone's track once (both are things
    one may pass), it had made that cone moved traffic for good, and the closure a queue."""
    o = Overtake()

    def users(k):
        x = AHEAD_M + 20.0 - 10.0 * k * o.cfg.dt_s  # passes the cones, 2.5 m to their left, at 10 m/s
        return _cones_and((x, 1.2 + 1.3, -10.0, 0.0), cone_lat=(-1.2, -0.6, 0.0, 0.6, 1.2))

    _drive(o, 60, users)
    cones = [t for t in o.tracks if t.static]
    assert len(cones) == 5 and not any(t.moved for t in cones)
    assert all(not t.static for t in o.tracks if t.moved)


def test_a_cone_at_the_lane_line_leaves_the_lane_to_pass_in_open():
    """A cone lining the closure whose measured place strays 5 cm over the lane line is passed beside with the
    side clearance to spare; a car standing in the target lane's middle still closes it."""
    line = WIDTH_M / 2
    o = Overtake()
    phases = _drive(o, 60, lambda k: _cones_and(cone_lat=(-1.2, -0.4, 0.4, 1.2, line + 0.05 - 0.25)))
    assert OUT in phases
    o = Overtake()
    phases = _drive(o, 60, lambda k: _cones_and((AHEAD_M + 15.0, WIDTH_M, 0.0, 0.0), cone_lat=(-1.2, -0.4, 0.4, 1.2)))
    assert OUT not in phases and o.waiting


@pytest.mark.slow
def test_the_driver_passes_lane_closures_through_the_measured_perception_noise():
    """Labels degraded by the noise the shipped models were measured to have (what the RL curriculum trains
    on): every closure of the short sweep is passed (3 of 6 before cones had their own class, their tracks were
    kept apart from the cars' and the lane line's strays allowed: it stood behind the 40 and 60 m closures)."""
    from perception.ground_truth import PerceptionNoise

    env = make_suite_env(noise=PerceptionNoise(), noise_seed=1)
    policy = RuleBasedPolicy()
    for case in suite_cases(["LaneClosure"], "short"):
        r = run_case(env, policy, case)
        assert r["passed"], f"{case.label()}: {r['end']}, hit {r['collision']}"


@pytest.mark.slow
def test_merges_through_the_measured_perception_noise():
    """MergeSlowTraffic's short sweep with labels + the measured noise: 6 of 8 (2026-12-05; 0 before cones had
    their class and the merge its noise tolerance). The two left are the densest, slowest stream (20 km/h, 2 s):
    the move over aborts on a front gap a few cm short, and from a stop at the zip point no gap is long enough."""
    from perception.ground_truth import PerceptionNoise

    env = make_suite_env(noise=PerceptionNoise(), noise_seed=1)
    policy = RuleBasedPolicy()
    results = [run_case(env, policy, case) for case in suite_cases(["MergeSlowTraffic"], "short")]
    assert sum(r["passed"] for r in results) >= 6 and not any(r["collision"] for r in results)


def test_a_far_car_in_a_lane_seen_carrying_traffic_our_way_is_not_taken_as_oncoming():
    """From the models a stream car 150-180 m ahead in the target lane read oncoming or standing (its reading beyond
    the sure range is noise), and the car never merged into a 3.9-s stream (suite validation case 800015): once the
    lane is seen carrying traffic our way within the sure range, a far car in it moves with that stream."""

    def phases(stream_near: bool) -> list[str]:
        o = Overtake()

        def users(k):
            rows = [(AHEAD_M, 0.0, 0.0, 0.0), (120.0, WIDTH_M, -12.0, 0.0)]  # the far one reads oncoming
            if stream_near:
                rows.append((-30.0 + 5.0 * k * o.cfg.dt_s, WIDTH_M, 5.0, 0.0))  # a stream car behind, our way
            return dataclasses.replace(_users(*rows), sure_range_m=35.0)

        return _drive(o, 80, users)

    assert set(phases(False)) == {IDLE}  # a far car alone: as if coming at the limit, the lane stays closed
    assert OUT in phases(True)


def test_a_car_out_of_view_is_placed_no_better_than_its_read_speed_allows():
    """A car behind in the target lane, seen once and then out of the forward camera's view, is dead-reckoned; from
    the models its read speed errs (``memory_speed_error``), so the gap behind it shrinks with the time since it was
    seen (suite case 800303: a car read 18 % fast lay 10 m ahead of its track after 5 s, and the car moved out in
    front of it). With labels (exact speeds) the gap stays what it was."""

    def clear_after(seconds: float, sure_range_m: float) -> bool:
        o = Overtake()
        v = 8.0
        seen = _users((200.0, 0.0, 0.0, 0.0), (-14.0, WIDTH_M, v, 0.0))
        o.update(_decoded(v), dataclasses.replace(seen, sure_range_m=sure_range_m), None, 13.0)
        alone = dataclasses.replace(_users((200.0 - v * o.cfg.dt_s, 0.0, 0.0, 0.0)), sure_range_m=sure_range_m)
        for _ in range(round(seconds / o.cfg.dt_s)):
            o.update(_decoded(v), alone, None, 13.0)
        return o._target_clear(_decoded(v), o.s_m + 60.0, 13.0)

    assert clear_after(0.5, 35.0) and clear_after(6.0, math.inf)
    assert not clear_after(6.0, 35.0)


def test_a_parked_car_read_moving_beyond_the_sure_range_is_still_an_obstacle():
    """From the models a parked car approached from 60 m read moving for over a second beyond the 35-m sure range, was
    taken for stopped traffic (``moved``) and never passed (ParkedObstacle 800301, a time limit): only readings within
    the sure range can show that a road user moves."""

    def phases(sure_range_m: float) -> list[str]:
        o = Overtake()
        x, v, out = 60.0, 8.0, []
        for k in range(200):  # 10 s: approach at 8 m/s to 12 m from its front, then stand there
            if k < 120 and x > AHEAD_M:
                x -= v * o.cfg.dt_s
            speed = v if k < 120 and x > AHEAD_M else 0.0
            read_v = 3.0 if x > 35.0 else 0.0  # read moving away while far (from the models: noise)
            o.update(_decoded(speed), dataclasses.replace(_users((x, 0.0, read_v, 0.0)), sure_range_m=sure_range_m),
                     None, 13.0)
            out.append(o.phase)
        return out

    assert OUT in phases(35.0)
    assert set(phases(math.inf)) == {IDLE}  # with labels, read so it drove: traffic that stopped, not passed
