"""The rule-based driver's junction decisions on scripted situations (control.junction_gaps): it does not
enter a junction whose exit lane has no room, it takes a gap in the oncoming stream that it can clear and
refuses one it cannot, and a turn's speed is not cut by waypoints the route block clipped."""

import numpy as np
import pytest

from common.vocab import CAMERA_MOUNT, EGO_LENGTH_M
from control.features import EgoMeasurements, encode
from control.junction_gaps import (CRITICAL_GAP_S, CRUISE_M_S, EXIT_ROOM_M, PULL_OFF_ACCEL_M_S2, STANDING_START_S,
                                   WalkerMemory, arrival, clear_time_s, exit_blocked, gap_refused, junction_span_m,
                                   stream_margin_s, walker_gap_m)
from control.junction_rules import BOX_BLOCKED_READINGS, BOX_WINDOW_STEPS
from control.overtake import Users
from control.policies import RuleBasedPolicy, route_curvature
from control.route_features import N_WAYPOINTS, RouteGuidance, encode_route
from perception.types import Detections, LaneEstimate, PerceptionFrame

CAR = 0  # common.vocab: class 0 is a car
LINE_BEFORE_ENTRY_M = 4.5  # the junction's entry lies this far past the stop line (as in the towns) [m]
JUNCTION_X_M, JUNCTION_Y_M, RADIUS_M = 30.0, 5.0, 10.0  # ego frame at the start; the route runs along y = 0
ENTRY_X_M = JUNCTION_X_M - np.sqrt(RADIUS_M**2 - JUNCTION_Y_M**2)  # where y = 0 enters the circle [m]
EXIT_X_M = JUNCTION_X_M + np.sqrt(RADIUS_M**2 - JUNCTION_Y_M**2)


SURE_RANGE_M = 35.0  # what the models' frames say at the simulator's camera (``perception.placement.sure_range_m``)


def _users(x, y, vx, vy, sure_range_m: float = np.inf) -> Users:
    """Cars at nearest points (x, y) ego centre frame, absolute velocities [m, m/s]; their speeds trusted up to
    ``sure_range_m`` (inf: the labels)."""
    n = len(x)
    return Users(np.array(x, float), np.array(y, float), np.array(vx, float), np.array(vy, float),
                 np.full(n, 4.8), np.full(n, 2.0), np.ones(n, bool), sure_range_m)


def _straight(travelled_m: float = 0.0) -> RouteGuidance:
    """Straight through the junction, the ego ``travelled_m`` on from the start."""
    wp = np.stack([5.0 * np.arange(1, N_WAYPOINTS + 1), np.zeros(N_WAYPOINTS)], 1)
    return RouteGuidance("straight", max(ENTRY_X_M - travelled_m - EGO_LENGTH_M / 2, 0.0), wp,
                         junction_xy_m=(JUNCTION_X_M - travelled_m, JUNCTION_Y_M), junction_radius_m=RADIUS_M)


def _obs(route: RouteGuidance, speed_m_s: float, light_m: float, cars: list[tuple[float, float, float, float]],
         light: str = "green") -> tuple[np.ndarray, PerceptionFrame]:
    """A v2 observation and its frame: ``cars`` as (x, y, vx, vy), nearest point in the ego centre frame and
    absolute velocity [m, m/s]; the light ``light_m`` ahead of the bumper."""
    n = len(cars)
    pos = np.array([(x - CAMERA_MOUNT.forward_m, y) for x, y, _, _ in cars], np.float32).reshape(n, 2)
    vel = np.array([(vx - speed_m_s, vy) for _, _, vx, vy in cars], np.float32).reshape(n, 2)
    dets = Detections(np.zeros((n, 4), np.float32), np.ones(n, np.float32), np.full(n, CAR, np.int64),
                      np.arange(n, dtype=np.int64), np.hypot(pos[:, 0], pos[:, 1]).astype(np.float32), pos, vel)
    frame = PerceptionFrame(0, 0.0, "t", (160, 320), dets, LaneEstimate(0.0, 0.0, 0.0, 3.5, 1.0), light, light_m)
    v1 = encode(frame, EgoMeasurements(speed_m_s, 0.0, 13.9, 0.0, 0.0))
    return np.concatenate([v1, encode_route(route)]), frame


# --- don't block the box ------------------------------------------------------------------------------


def test_the_junction_span_along_the_route():
    entry, exit_ = junction_span_m(_straight())
    assert entry == pytest.approx(ENTRY_X_M, abs=0.5) and exit_ == pytest.approx(EXIT_X_M, abs=0.5)


@pytest.mark.parametrize("rear_past_exit_m, speed_m_s, blocked", [
    (2.0, 0.0, True),  # the suite's queue: its rear 2 m into the exit street
    (EXIT_ROOM_M - 0.5, 0.5, True),  # creeping, still no room for the car
    (EXIT_ROOM_M + 1.0, 0.0, False),  # room behind it
    (2.0, 8.0, False),  # moving on: it will have gone by the time the car gets there
    (-30.0, 0.0, False),  # before the junction: a queue to join, not the box
])
def test_exit_blocked(rear_past_exit_m, speed_m_s, blocked):
    users = _users([EXIT_X_M + rear_past_exit_m], [0.0], [speed_m_s], [0.0])
    assert exit_blocked(users, _straight(), speed_m_s=8.0) is blocked


def test_a_car_in_the_next_lane_does_not_block_the_exit():
    assert not exit_blocked(_users([EXIT_X_M + 2.0], [-3.5], [0.0], [0.0]), _straight())
    assert not exit_blocked(_users([EXIT_X_M + 2.0], [-1.9], [0.0], [0.0]), _straight())  # parked at the kerb


def test_a_queue_beyond_the_junction_holds_the_car_at_its_line_until_room_opens():
    """Closed loop along the straight: at 8 m/s toward a green light whose line lies 4.5 m before the
    junction, a car standing 2 m into the exit street. The car stops before its line; once the queue
    has moved on it goes."""
    policy = RuleBasedPolicy()
    policy.reset()
    line0 = ENTRY_X_M - LINE_BEFORE_ENTRY_M - EGO_LENGTH_M / 2  # the line ahead of the bumper at the start [m]
    queue = (EXIT_X_M + 2.0, 0.0, 0.0, 0.0)
    s, v, dt = 0.0, 8.0, 0.05
    for _ in range(300):  # 15 s
        obs, frame = _obs(_straight(s), v, line0 - s, [(queue[0] - s, 0.0, 0.0, 0.0)])
        a = float(policy.act(obs, frame)[1])
        v = max(0.0, v + (a * (3.5 if a > 0 else 8.0)) * dt)  # about the car's limits (common.vocab)
        s += v * dt
    assert line0 - s > -0.5 and v < 0.1  # standing at its line, not in the box
    # one reading of the queue driving on (from the models a standing queue's speed jumps about): still held
    obs, frame = _obs(_straight(s), v, line0 - s, [(queue[0] - s, 0.0, 8.0, 0.0)])
    assert policy.act(obs, frame)[1] <= 0.0
    for k in range(BOX_WINDOW_STEPS):  # it moves on: once the exit has read clear for most of 1 s, the car goes
        obs, frame = _obs(_straight(s), v, line0 - s, [(queue[0] - s + 8.0 * 0.05 * k, 0.0, 8.0, 0.0)])
        a = float(policy.act(obs, frame)[1])
    assert a > 0.1


def test_a_blocked_reading_at_one_junction_does_not_hold_the_car_at_the_next():
    """The clear count starts afresh past a line: a blocked exit read just before the car committed to one
    junction (it goes on, committed) must not hold it at the next junction, whose exit is clear."""
    policy = RuleBasedPolicy()
    policy.reset()
    line0 = ENTRY_X_M - LINE_BEFORE_ENTRY_M - EGO_LENGTH_M / 2
    queue = [(EXIT_X_M + 2.0, 0.0, 0.0, 0.0)]
    for _ in range(BOX_BLOCKED_READINGS):  # blocked: the car would hold here
        policy.act(*_obs(_straight(), 8.0, line0, queue))
    s = line0 + 1.0  # a step later the car is past its line: committed
    policy.act(*_obs(_straight(s), 8.0, line0 - s, [(queue[0][0] - s, 0.0, 0.0, 0.0)]))
    a = float(policy.act(*_obs(_straight(), 8.0, line0, []))[1])  # the next junction, 14 m on, its exit clear
    assert a > -0.1


@pytest.mark.parametrize("every, held", [(7, False), (2, True)])
def test_the_box_hold_goes_by_most_readings_not_one(every, held):
    """Standing at its line with a car 2 m into the exit read there in one reading in ``every`` (elsewhere: the
    kerb, outside the path): one in seven is the measured range noise moving a car that stands beside the exit
    into the path (the teacher held at its green line for minutes on training route 784019); one in two, a queue
    in the exit whose readings jump about. The first does not hold the car, the second does."""
    policy = RuleBasedPolicy()
    policy.reset()
    line = 0.5  # the car stands at its line [m]
    s = ENTRY_X_M - LINE_BEFORE_ENTRY_M - EGO_LENGTH_M / 2 - line
    accel = []
    for k in range(5 * BOX_WINDOW_STEPS):
        y = 0.0 if k % every == 0 else -2.5
        obs, frame = _obs(_straight(s), 0.0, line, [(EXIT_X_M + 2.0 - s, y, 0.0, 0.0)])
        accel.append(float(policy.act(obs, frame)[1]))
    assert (max(accel[BOX_WINDOW_STEPS:]) <= 0.0) is held


def test_a_car_in_the_exit_too_far_to_judge_counts_as_standing():
    """Beyond the frame's sure range a car's speed is not to be trusted (from the models a standing queue at
    45-60 m read as driving on at the ego's speed, and one 36-39 m off read 0.2-4 m/s in runs of seconds while the car
    stood at its line): the car holds at its line until it can tell, moving or standing. With labels (sure range inf)
    the reading holds."""
    far = [EXIT_X_M + 2.0]
    assert far[0] > SURE_RANGE_M
    assert exit_blocked(_users(far, [0.0], [8.0], [0.0], SURE_RANGE_M), _straight(), speed_m_s=8.0)
    assert exit_blocked(_users(far, [0.0], [8.0], [0.0], SURE_RANGE_M), _straight(), speed_m_s=0.0)
    assert not exit_blocked(_users(far, [0.0], [8.0], [0.0]), _straight(), speed_m_s=8.0)
    near = _straight(10.0)  # 10 m on: the same car 30.7 m away is judged by its speed
    assert not exit_blocked(_users([far[0] - 10.0], [0.0], [8.0], [0.0], SURE_RANGE_M), near, speed_m_s=8.0)


# --- gap acceptance on a permitted left -----------------------------------------------------------------

TURN_RADIUS_M = 12.0
ONCOMING_LANE_Y_M = 3.5
# where the left arc crosses the oncoming lane's centre line: x, and the arc length to it [m]
CONFLICT_S_M = TURN_RADIUS_M * np.arccos(1 - ONCOMING_LANE_Y_M / TURN_RADIUS_M)
CONFLICT_X_M = TURN_RADIUS_M * np.sin(CONFLICT_S_M / TURN_RADIUS_M)


def _left_turn_waypoints() -> np.ndarray:
    """Route points every 5 m from 5 m ahead: a quarter circle to the left from the ego's centre, then
    straight on in the cross street."""
    s = 5.0 * np.arange(1, N_WAYPOINTS + 1)
    quarter = np.pi / 2 * TURN_RADIUS_M
    t = np.minimum(s, quarter) / TURN_RADIUS_M
    beyond = np.maximum(s - quarter, 0.0)
    return np.stack([TURN_RADIUS_M * np.sin(t), TURN_RADIUS_M * (1 - np.cos(t)) + beyond], 1)


def _left(line_m: float = 0.9) -> RouteGuidance:
    """A permitted left: the arc from the ego's centre (its bumper ``line_m`` before the line)."""
    wp = _left_turn_waypoints()
    return RouteGuidance("left", line_m + LINE_BEFORE_ENTRY_M, wp, junction_xy_m=(8.0, 6.0), junction_radius_m=10.0,
                         left_must_yield=True)


def _oncoming(gap_s: float, speed_m_s: float = 10.0) -> tuple[float, float, float, float]:
    """An oncoming car whose nearest point reaches the conflict point (plus the ego's half width) in ``gap_s``."""
    return (CONFLICT_X_M + 0.93 + speed_m_s * gap_s, ONCOMING_LANE_Y_M, -speed_m_s, 0.0)


def test_a_gap_must_leave_the_stream_driver_a_headway_and_a_comfortable_stop():
    """From standstill the car clears the oncoming lane in about 4 s here; a car at 36 km/h must then still be
    its standstill gap, 1.5 s and a 3 m/s^2 stop away: about 3.6 s. HCM's critical gap (4.1 s) is less."""
    t = clear_time_s(CONFLICT_S_M + EGO_LENGTH_M / 2 + 1.0 + 0.93, 0.0)
    assert 3.5 < t < 4.5 and stream_margin_s(10.0) == pytest.approx(0.4 + 1.5 + 10.0 / 6.0)
    assert CRITICAL_GAP_S < t + stream_margin_s(10.0) < 9.0


@pytest.mark.parametrize("gap_s, refused", [(9.0, False), (2.0, True), (6.0, True)])
def test_gap_refused(gap_s, refused):
    car = _oncoming(gap_s)
    assert gap_refused(_users(*[[c] for c in car]), _left(), 0.0) is refused


def test_an_oncoming_car_too_far_to_judge_is_taken_as_coming_at_the_limit():
    """From the models a car 45 m off in the oncoming lane read as driving away (its range stuck while it came
    on at 50 km/h): beyond the frame's sure range the car does not turn in front of it on that reading."""
    x = SURE_RANGE_M + 10.0
    assert gap_refused(_users([x], [ONCOMING_LANE_Y_M], [3.0], [0.0], SURE_RANGE_M), _left(), 0.0)
    assert not gap_refused(_users([x], [ONCOMING_LANE_Y_M], [3.0], [0.0]), _left(), 0.0)  # labels: it holds
    # nearer it is judged by what it reads; and a car ahead in the car's own lane is no oncoming one
    assert not gap_refused(_users([SURE_RANGE_M - 5.0], [ONCOMING_LANE_Y_M], [3.0], [0.0], SURE_RANGE_M), _left(), 0.0)
    assert not gap_refused(_users([x], [0.0], [3.0], [0.0], SURE_RANGE_M), _left(), 0.0)


def test_a_car_past_the_conflict_point_leaves_the_gap_open():
    x = CONFLICT_X_M - 8.0  # its front 8 m past the crossing: its rear is clear
    assert not gap_refused(_users([x], [ONCOMING_LANE_Y_M], [-10.0], [0.0]), _left(), 0.0)
    x = CONFLICT_X_M - 2.0  # its body still over it
    assert gap_refused(_users([x], [ONCOMING_LANE_Y_M], [-10.0], [0.0]), _left(), 0.0)


def test_a_gap_once_taken_is_kept_unless_the_car_could_not_clear():
    """Going into a gap, the margin and the critical gap no longer count: no stop-and-go at the line."""
    car = _users(*[[c] for c in _oncoming(5.0)])
    assert gap_refused(car, _left(), 3.0) and not gap_refused(car, _left(), 3.0, taken=True)
    assert gap_refused(_users(*[[c] for c in _oncoming(1.5)]), _left(), 3.0, taken=True)


@pytest.mark.parametrize("gap_s, goes", [(9.0, True), (2.0, False)])
def test_the_driver_takes_a_nine_second_gap_and_not_a_two_second_one(gap_s, goes):
    policy = RuleBasedPolicy()
    policy.reset()
    obs, frame = _obs(_left(), 0.0, 0.9, [_oncoming(gap_s)])
    accel = float(policy.act(obs, frame)[1])
    assert (accel > 0.1) is goes


def test_the_first_car_of_the_oncoming_queue_pulls_off_with_the_green():
    """A car standing at the far line when the car's wait on the green begins is about to pull off: the car does
    not turn in front of it (town seed 108167: it did, braked in the box in that car's path, and both stood for
    good). Once the car has waited, a standing car is one that waits itself; a car beside the car's own lane or
    behind it is no oncoming one, and one parked down the street beyond the junction's far line is not pulling off."""
    at_line = _users([22.0], [ONCOMING_LANE_Y_M], [0.0], [0.0])  # the junction (8, 6), radius 10: its far line
    assert gap_refused(at_line, _left(), 0.0, standing_start=True)
    assert not gap_refused(at_line, _left(), 0.0)
    for x, y in ((22.0, 0.0), (22.0, -3.5), (-10.0, ONCOMING_LANE_Y_M), (40.0, ONCOMING_LANE_Y_M)):
        assert not gap_refused(_users([x], [y], [0.0], [0.0]), _left(), 0.0, standing_start=True)


def test_an_oncoming_car_pulling_off_is_taken_to_speed_up():
    """At 1 m/s 40 m off it is not 40 s away: from a pull-off it reaches the crossing in about 7 s; a car at
    cruising speed is taken to keep it (the nine-second gap above)."""
    t, v = arrival(40.0, 1.0, PULL_OFF_ACCEL_M_S2 * (1 - 1.0 / CRUISE_M_S), 13.9)
    assert 6.0 < t < 8.0 and 1.0 < v < 13.9
    assert gap_refused(_users([40.0], [ONCOMING_LANE_Y_M], [-1.0], [0.0]), _left(), 0.0)
    # going into the gap, the car drops it when such a car would reach the crossing before it has cleared it
    near = CONFLICT_X_M + 0.93 + 10.0
    assert gap_refused(_users([near], [ONCOMING_LANE_Y_M], [-1.0], [0.0]), _left(), 0.0, taken=True)


def test_the_driver_waits_for_the_standing_oncoming_car_then_goes():
    """On its green the driver holds at the line for ``STANDING_START_S`` while a car stands at the far line,
    then takes it for one that waits itself and goes."""
    policy = RuleBasedPolicy()
    policy.reset()
    obs, frame = _obs(_left(), 0.0, 0.9, [(22.0, ONCOMING_LANE_Y_M, 0.0, 0.0)])
    accel = [float(policy.act(obs, frame)[1]) for _ in range(int(STANDING_START_S / 0.05) + 5)]
    assert max(accel[:int(STANDING_START_S / 0.05) - 1]) <= 0.0 and accel[-1] > 0.1


def test_a_car_standing_at_its_line_stays_there_on_yellow():
    """Waiting at its line (0.9 m before it, inside the 1-m stop margin) for a permitted left when the light turns
    yellow, the car stays: "can it stop comfortably before the margin" read no, and it went into the red
    (test route 900110). A car coming at 8 m/s from 25 m brakes for it; the gap it would take is wide open."""
    for line_m, speed_m_s in ((0.9, 0.0), (0.3, 0.0), (0.9, 0.3), (25.0, 8.0)):
        policy = RuleBasedPolicy()
        policy.reset()
        obs, frame = _obs(_left(line_m), speed_m_s, line_m, [], light="yellow")
        assert float(policy.act(obs, frame)[1]) <= 0.0


def test_clipped_waypoints_do_not_make_a_sharp_bend():
    """Points beyond the block's 20 m sideways range are clipped onto its edge, bunched there: the turn
    is the arc's, not a bend of a metre's radius (which had the car crawl through junctions)."""
    wp = _left_turn_waypoints()
    assert wp[-1, 1] > 20.0
    wp[:, 1] = np.minimum(wp[:, 1], 20.0)  # as the block clips them (control.route_features)
    kappa = route_curvature(RouteGuidance("left", 0.0, wp))
    assert kappa == pytest.approx(1 / TURN_RADIUS_M, rel=0.2)


# --- walkers at the corner of a turn ----------------------------------------------------------------------


def _walking(x: float, y: float, vx: float, vy: float) -> Users:
    """One walker at (x, y), ego frame, with velocity (vx, vy) over the ground [m, m/s]."""
    return Users(np.array([x]), np.array([y]), np.array([vx]), np.array([vy]), np.full(1, 0.6), np.full(1, 0.6),
                 np.zeros(1, bool))


def _walker(x: float, y: float) -> Users:
    return _walking(x, y, 0.0, 0.0)


NOBODY = Users(*(np.zeros(0) for _ in range(6)), np.zeros(0, bool))


def test_a_walker_at_the_corner_that_leaves_the_view_slows_the_turn():
    """A walker waiting at the corner beside the turn's path drops out of the camera's view as the car turns:
    the car passes there at walking pace; with nobody about, the walker in view, or far from the path, it
    does not slow."""
    memory = WalkerMemory()
    route = _left()
    memory.update(NOBODY, route, 3.0, 0.0)
    assert memory.speed_cap_m_s() == np.inf
    memory.update(_walker(10.0, 9.0), route, 3.0, 0.0)  # seen, at the corner
    assert memory.speed_cap_m_s() == np.inf
    memory.update(NOBODY, route, 3.0, 0.0)  # out of view now
    assert memory.speed_cap_m_s() == pytest.approx(2.0)
    far = WalkerMemory()
    far.update(_walker(20.0, 0.0), route, 3.0, 0.0)  # 12 m from the turn
    far.update(NOBODY, route, 3.0, 0.0)
    assert far.speed_cap_m_s() == np.inf


def test_a_walker_heading_for_the_path_is_yielded_to_if_it_gets_there_before_the_car_is_past():
    """A walker 5 m right of the turn's path, 6 m ahead, walking toward it at 1.4 m/s reaches it in about 3 s,
    before the car pulling off at 0.4 m/s is past: a standing obstacle before the crossing (a fixed 2.5-m band
    let the car go, training route 470212). Walking away, or slowly, it is not."""
    route = _left()
    gap = walker_gap_m(_walking(6.0, -5.0, 0.0, 1.4), route, 0.4)
    assert 0.0 < gap < 6.0 - EGO_LENGTH_M / 2  # its crossing point (the turn bends away from it), less a margin
    assert walker_gap_m(_walking(6.0, -5.0, 0.0, -1.4), route, 0.4) == np.inf
    assert walker_gap_m(_walking(6.0, -5.0, 0.0, 0.5), route, 0.4) == np.inf


def test_a_walker_out_of_view_walks_on_into_the_path():
    """Seen 4 m right of the path crossing toward it, then out of the camera's view: remembered where it has
    walked to since, in the path after 2.5 s, so the car stays stopped for it; a walker seen standing stays where
    it stood."""
    route = _left()
    memory = WalkerMemory()
    memory.update(_walking(6.0, -4.0, 0.0, 1.4), route, 0.0, 0.0)
    assert len(memory.unseen().x_m) == 0  # in view
    for _ in range(50):  # 2.5 s out of view, the car standing
        memory.update(NOBODY, route, 0.0, 0.0)
    unseen = memory.unseen()
    assert unseen.y_m[0] == pytest.approx(-4.0 + 1.4 * 2.5, abs=0.1)
    assert walker_gap_m(unseen, route, 0.0) < 6.0 - EGO_LENGTH_M / 2
    standing = WalkerMemory()
    standing.update(_walker(6.0, -4.0), route, 0.0, 0.0)
    for _ in range(50):
        standing.update(NOBODY, route, 0.0, 0.0)
    assert standing.unseen().y_m[0] == pytest.approx(-4.0)


def test_a_slow_car_round_the_corner_leads_the_turn():
    """In the left turn's exit street, a car at 2 m/s on the route 25 m on: the leader, at its speed along the route."""
    route = _left()
    wp = route.waypoints_m
    x, y = wp[4, 0], wp[4, 1]  # on the route, 25 m along it
    from control.junction_gaps import route_leader
    gap, v = route_leader(_users([x], [y], [0.0], [2.0]), route)
    assert gap == pytest.approx(25.0 - EGO_LENGTH_M / 2, abs=1.0) and v == pytest.approx(2.0, abs=0.2)
    assert route_leader(_users([x + 4.0], [y], [0.0], [2.0]), route)[0] == np.inf  # beside the route: the next lane
