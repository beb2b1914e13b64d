"""The navigation worlds' compiled per-step passes (``traffic_kernels``, packed road poses,
pedestrians' yaw and gap look-out) give exactly what the numpy expressions they replaced (written
out here) give, on states of a TownNav and a HighwayNav drive (grants held, stops made, lane
changes half-way, cyclists, parked cars, the ego in a lane) and on random ones."""

import math

import gymnasium as gym
import numpy as np
import pytest

import sim  # noqa: F401  (registers the environments)
from common.vocab import EGO_LENGTH_M
from sim.autopilot import Autopilot
from sim.collision import box_rows
from sim.lights import GREEN, YELLOW
from sim.roadgraph import pedestrians as P
from sim.roadgraph import traffic as T
from sim.roadgraph import traffic_kernels as K

CASES = [("drivestack/TownNav-v0", 3), ("drivestack/HighwayNav-v0", 2)]
STEPS, EVERY = 240, 8


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0].split('/')[1]}-{c[1]}")
def snapshots(request):
    """(traffic, signal group states, ego lane id, ego lane s [m], time [s]) every EVERY steps of an
    autopilot drive; the traffic a copy of its arrays at that moment."""
    env_id, seed = request.param
    env = gym.make(env_id, render_camera=False).unwrapped
    obs, info = env.reset(seed=seed)
    pilot, out = Autopilot(), []
    for k in range(STEPS):
        obs, _, term, trunc, info = env.step(pilot.act(info["ground_truth"], float(obs["state"][0])))
        if term or trunc:
            break
        if k % EVERY == 0:
            w = env.world
            tr = w.traffic
            snap = object.__new__(T.GraphTraffic)
            snap.__dict__.update({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in tr.__dict__.items()})
            ego_g = tr.table.index.get(w.lane_ref, -1)
            groups = tuple(a.copy() for a in tr.signals.group_states())
            out.append((snap, groups, ego_g, w.road_s_m, w.time_s))
    assert len(out) > 10
    return out


# --- the numpy expressions the kernels replaced ------------------------------------------------
def _frenet_ref(tr):
    lane = np.maximum(tr.lane, 0)
    road = tr._lane_road[lane].copy()
    direction = tr._lane_dir[lane].copy()
    s = np.where(direction > 0, tr.p, tr.table.length_m[lane] - tr.p)
    keep_right = np.where(tr.cyclist, np.maximum(tr._lane_width[lane] / 2 - T.CYCLIST_EDGE_M, 0.0), 0.0)
    d = tr._lane_d[lane] - direction * (tr.lat + keep_right)
    if tr.parked.any():
        pk = tr.parked
        road[pk] = tr._parked_rsd[:, 0].astype(np.int64)
        s[pk] = tr._parked_rsd[:, 1]
        d[pk] = tr._parked_rsd[:, 2]
        direction[pk] = np.where(tr._parked_rsd[:, 2] < 0, 1, -1)
    return road, direction, s, d


def _second_lane_ref(tr):
    lane = np.maximum(tr.lane, 0)
    reach = tr._lane_width[lane] / 2 - tr.dims[:, 1] / 2 - T.SWING_M
    k = lane - tr.table.group_first[lane]
    other = np.where(tr.lat < 0, k - 1, k + 1)
    ok = (np.abs(tr.lat) > reach) & (other >= 0) & (other < tr.table.group_lanes[lane]) & ~tr.parked
    return np.where(ok, tr.table.group_first[lane] + other, -1)


def _street_state_ref(tr, state, stop_first, half, time_s):
    t, n = tr.table, tr.n
    held_now, stopped = tr.held.copy(), tr.stopped_at_s.copy()
    on_street = ~tr.parked & ~t.is_connector[np.maximum(tr.lane, 0)]
    dist_line = t.stop_p[np.maximum(tr.lane, 0)] - tr.p - half[:n]
    held = np.maximum(held_now, 0)
    before = on_street & (held_now >= 0) & (dist_line > -0.3)
    turned = before & (state[held] != GREEN) & (dist_line >= tr.v**2 / (2 * T.YELLOW_STOP_M_S2))
    held_now[turned & ~(stop_first[held] & np.isfinite(stopped))] = -1
    at_line = on_street & (dist_line < T.STOP_ZONE_M) & (dist_line > -0.3) & (tr.v < T.STOP_DONE_M_S)
    stopped = np.where(at_line & ~np.isfinite(stopped), time_s, stopped)
    lane = np.maximum(tr.lane, 0)
    v_des = np.minimum(tr._lane_limit[lane] * tr.speed_factor, tr.max_speed)
    turn_v = t.conn_limit_m_s[np.maximum(tr.next_conn, 0)]
    ease = np.sqrt(turn_v**2 + 2.0 * tr.idm.b_m_s2 * 0.5 * np.maximum(t.length_m[lane] - tr.p, 0.0))
    v_des = np.where(tr.parked, 0.0, np.where(on_street & (tr.next_conn >= 0), np.minimum(v_des, ease), v_des))
    return on_street, dist_line, v_des, held_now, stopped


def _occupancy_ref(tr, idx, ego_g, ego_lane_s, second, ego_second=-1):
    t = tr.table
    two = idx[second[idx] >= 0]
    lanes = [tr.lane[idx], second[two], tr._parked_occ[0]]
    ps = [tr.p[idx], tr.p[two], tr._parked_occ[1]]
    veh = [idx, two, tr._parked_occ[2]]
    if ego_g >= 0:
        lanes.append(np.array([ego_g]))
        ps.append(np.array([ego_lane_s if tr._lane_dir[ego_g] > 0 else t.length_m[ego_g] - ego_lane_s]))
        veh.append(np.array([tr.n]))
    if ego_second >= 0:
        lanes.append(np.array([ego_second]))
        ps.append(np.array([ego_lane_s if tr._lane_dir[ego_second] > 0 else t.length_m[ego_second] - ego_lane_s]))
        veh.append(np.array([tr.n]))
    lane, p, v = (np.concatenate(a) for a in (lanes, ps, veh))
    order = np.lexsort((p, lane))
    lane, p, v = lane[order], p[order], v[order]
    start = np.searchsorted(lane, np.arange(len(t.refs) + 1)).astype(np.int64)
    return start, p, v.astype(np.int64)


def _requests_ref(tr, occ, on_street, dist_line, state, stop_first, time_s):
    t, n = tr.table, tr.n
    start, _, occ_veh = occ
    nc = tr.next_conn
    ncc = np.maximum(nc, 0)
    last = occ_veh[start[1:][start[1:] > start[:-1]] - 1]
    head = np.zeros(n + 1, bool)
    head[last] = True
    head = head[:n]
    in_lane = (nc >= 0) & (t.conn_src[ncc] == tr.lane) & (np.abs(tr.lat) < 0.3)
    waiting = on_street & (tr.held < 0) & in_lane
    decide_m = tr.v**2 / (2 * tr.idm.b_m_s2) + 2.0 * tr.v + 8.0
    stop_sign = stop_first[ncc]
    light_ok = (state[ncc] == GREEN) | ((state[ncc] == YELLOW) & (dist_line < tr.v**2 / (2 * T.YELLOW_STOP_M_S2)))
    ready = np.where(stop_sign, np.isfinite(tr.stopped_at_s), light_ok & (dist_line < decide_m))
    eta = time_s + np.maximum(dist_line, 0.0) / np.maximum(tr.v, 1.0)
    approach = np.full(len(t.conn_lane), np.inf)
    coming = waiting & (dist_line > -0.3)
    np.minimum.at(approach, ncc[coming], (np.maximum(dist_line, 0.0) / np.maximum(tr.v, 1.0))[coming])
    cand = np.flatnonzero(waiting & head & ready & (dist_line > -0.3))
    taken = np.bincount(tr.held[tr.held >= 0], minlength=len(t.conn_lane)).astype(np.int64)
    arrival = np.where(stop_sign[cand], tr.stopped_at_s[cand], eta[cand])
    return cand, arrival, approach, taken


def _exit_room_ref(tr, occ, half):
    t = tr.table
    start, occ_p, occ_veh = occ
    room = np.full(len(t.refs), np.inf)
    first = start[:-1] < start[1:]
    room[np.flatnonzero(first)] = occ_p[start[:-1][first]] - half[occ_veh[start[:-1][first]]]
    held = np.flatnonzero((tr.held >= 0) & (tr.lane != t.conn_dst[np.maximum(tr.held, 0)]))
    np.subtract.at(room, t.conn_dst[tr.held[held]], 2 * half[held] + 2.0)
    return room


def _lane_change_due_ref(tr, idx, time_s, dt_s):
    t, lane = tr.table, tr.lane
    due = np.zeros(tr.n, bool)
    due[idx] = np.mod(time_s + tr.lc_phase[idx], T.LANE_CHANGE_PERIOD_S) < dt_s
    due &= ~t.is_connector[np.maximum(lane, 0)] & (np.abs(tr.lat) < 0.05) & (tr.held < 0)
    due &= (t.group_lanes[np.maximum(lane, 0)] > 1) & (tr.p > 5.0)
    return due


def _lane_change_ref(tr, due, dist_line, lead_gap, keen, side_draw):
    """(need, mandatory, squeeze, give up, cand, step) as ``_lane_changes`` had them (draws given)."""
    t, lane = tr.table, tr.lane
    nc = np.maximum(tr.next_conn, 0)
    need = np.where(tr.next_conn >= 0, t.conn_src[nc] - lane, 0)
    far = dist_line > T.NO_CHANGE_BEFORE_LINE_M
    lane0 = np.maximum(lane, 0)
    dead_end = t.exit_start[lane0 + 1] == t.exit_start[lane0]
    squeeze = dead_end & (dist_line < T.SQUEEZE_BEFORE_END_M)
    mandatory = due & (need != 0) & (far | dead_end)
    give_up = due & (need != 0) & (dist_line < T.GIVE_UP_CHANGE_M)
    eager = np.where(tr.cut_in, 0.95, 0.7)
    slow = due & (need == 0) & far & (tr.v < eager * tr._lane_limit[np.maximum(lane, 0)] * tr.speed_factor)
    slow &= (lead_gap < T.HELD_UP_M) & (tr.cut_in | (keen < T.DISCRETIONARY_P)) & ~tr.cyclist
    k = lane - t.group_first[np.maximum(lane, 0)]
    side = np.where(side_draw < 0.5, -1, 1)
    side = np.where((k + side < 0) | (k + side >= t.group_lanes[np.maximum(lane, 0)]), -side, side)
    step = np.where(mandatory, np.sign(need), np.where(slow, side, 0))
    return need, mandatory, squeeze, give_up, np.flatnonzero(step != 0), step


def _same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype or g.dtype.kind == w.dtype.kind, (g.dtype, w.dtype)
        np.testing.assert_array_equal(g, w, strict=False)
        assert g.tobytes() == np.asarray(w, g.dtype).tobytes()  # bit for bit (signed zeros too)


# --- the kernels against them ----------------------------------------------------------------
def test_kernels_equal_the_numpy_they_replace(snapshots):
    seen = dict(held=0, stopped=0, straddling=0, cand=0, cyclists=0, parked=0, ego=0)
    for tr, groups, ego_g, ego_lane_s, time_s in snapshots:
        t = tr.table
        _same(K.frenet_state(tr.lane, tr.p, tr.lat, tr.parked, tr.cyclist, tr._lane_road, tr._lane_dir, tr._lane_d,
                             tr._lane_width, t.length_m, tr._parked_rsd, T.CYCLIST_EDGE_M), _frenet_ref(tr))
        second = K.second_lane(tr.lane, tr.lat, tr.dims[:, 1], tr.parked, tr._lane_width, t.group_first,
                               t.group_lanes, T.SWING_M)
        _same([second], [_second_lane_ref(tr)])
        state, _ = tr._connector_states(*groups)
        stop_first = tr._stop_first(state)
        half = np.append(tr.dims[:, 0] / 2, EGO_LENGTH_M / 2)
        want = _street_state_ref(tr, state, stop_first, half, time_s)
        held, stopped = tr.held.copy(), tr.stopped_at_s.copy()
        got = K.street_state(tr.lane, tr.p, tr.v, half, tr.parked, tr.next_conn, held, stopped, tr.speed_factor,
                             tr.max_speed, state, stop_first, t.length_m, t.stop_p, t.is_connector, tr._lane_limit,
                             t.conn_limit_m_s, time_s, tr.idm.b_m_s2, GREEN, T.YELLOW_STOP_M_S2, T.STOP_ZONE_M,
                             T.STOP_DONE_M_S)
        _same(list(got) + [held, stopped], want)
        on_street, dist_line = want[0], want[1]
        idx = np.flatnonzero(~tr.parked)
        ego_p = (ego_lane_s if tr._lane_dir[ego_g] > 0 else t.length_m[ego_g] - ego_lane_s) if ego_g >= 0 else 0.0
        # the ego reaching into its street's next lane where there is one (as while changing lanes)
        ego_second = ego_g + 1 if ego_g >= 0 and not t.is_connector[ego_g] and \
            ego_g - t.group_first[ego_g] < t.group_lanes[ego_g] - 1 else -1
        second_p = 0.0 if ego_second < 0 else (ego_lane_s if tr._lane_dir[ego_second] > 0
                                                else t.length_m[ego_second] - ego_lane_s)
        occ = K.occupancy(idx, tr.lane, tr.p, second, *tr._parked_occ, ego_g, float(ego_p), ego_second,
                          float(second_p), tr.n, len(t.refs))
        _same(occ, _occupancy_ref(tr, idx, ego_g, ego_lane_s, second, ego_second))
        got = K.requests(tr.lane, tr.lat, tr.v, tr.held, tr.next_conn, tr.stopped_at_s, on_street, dist_line,
                         stop_first, state, occ[0], occ[2], t.conn_src, len(t.conn_lane), time_s, tr.idm.b_m_s2,
                         GREEN, YELLOW, T.YELLOW_STOP_M_S2)
        _same(got, _requests_ref(tr, occ, on_street, dist_line, state, stop_first, time_s))
        _same([K.exit_room(tr.lane, tr.held, half, *occ, t.conn_dst)], [_exit_room_ref(tr, occ, half)])
        seen["held"] += int((tr.held >= 0).sum())
        seen["stopped"] += int(np.isfinite(tr.stopped_at_s).sum())
        seen["straddling"] += int((second >= 0).sum())
        seen["cand"] += len(got[0])
        seen["cyclists"] += int(tr.cyclist.sum())
        seen["parked"] += int(tr.parked.sum())
        seen["ego"] += ego_g >= 0
    # the states covered what the passes branch on (parked cars only in towns)
    assert all(v > 0 for k, v in seen.items() if k != "parked"), seen


def test_lane_change_kernels_equal_the_numpy_they_replace(snapshots):
    rng = np.random.default_rng(0)
    dt_s, seen = 0.05, dict(due=0, mandatory=0, give_up=0, moves=0)
    for tr, groups, ego_g, ego_lane_s, time_s in snapshots:
        t = tr.table
        idx = np.flatnonzero(~tr.parked)
        for k in range(int(T.LANE_CHANGE_PERIOD_S / dt_s)):  # a whole period: every vehicle's check comes up once
            due = K.lane_change_due(idx, tr.lane, tr.lat, tr.held, tr.p, tr.lc_phase, t.is_connector, t.group_lanes,
                                    time_s + k * dt_s, T.LANE_CHANGE_PERIOD_S, dt_s)
            _same([due], [_lane_change_due_ref(tr, idx, time_s + k * dt_s, dt_s)])
            seen["due"] += int(due.sum())
        half = np.append(tr.dims[:, 0] / 2, EGO_LENGTH_M / 2)
        dist_line = t.stop_p[np.maximum(tr.lane, 0)] - tr.p - half[:tr.n]
        # every street vehicle due, so that each branch comes up; leaders near and far
        due = ~tr.parked & ~t.is_connector[np.maximum(tr.lane, 0)]
        lead_gap = np.where(rng.random(tr.n) < 0.2, np.inf, rng.uniform(0.0, 80.0, tr.n))
        keen, side = rng.random(tr.n), rng.random(tr.n)
        need, mandatory, squeeze, give_up, slow = K.lane_change_needs(
            due, tr.lane, tr.next_conn, tr.v, dist_line, lead_gap, tr.cut_in, tr.cyclist, tr.speed_factor,
            tr._lane_limit, t.conn_src, t.exit_start, T.NO_CHANGE_BEFORE_LINE_M, T.SQUEEZE_BEFORE_END_M,
            T.GIVE_UP_CHANGE_M, T.HELD_UP_M)
        want = _lane_change_ref(tr, due, dist_line, lead_gap, keen, side)
        _same([need, mandatory, squeeze, give_up], want[:4])
        cand, step = K.lane_change_steps(mandatory, need, slow, tr.cut_in, keen, side, T.DISCRETIONARY_P, tr.lane,
                                         t.group_first, t.group_lanes)
        _same([cand, step], want[4:])
        seen["mandatory"] += int(mandatory.sum())
        seen["give_up"] += int(give_up.sum())
        seen["moves"] += len(cand)
    assert all(v > 0 for v in seen.values()), seen


def test_move_kernels_equal_the_numpy_they_replace(snapshots):
    """``may_enter`` and ``advance`` (the move: speed, progress, the lane change's sideways step)."""
    rng = np.random.default_rng(1)
    dt_s, seen = 0.05, dict(enter=0, sideways=0, stopped=0)
    for tr, groups, *_ in snapshots:
        t = tr.table
        state, _ = tr._connector_states(*groups)
        dist_line = t.stop_p[np.maximum(tr.lane, 0)] - tr.p - tr.dims[:, 0] / 2
        decide_m = tr.v**2 / (2 * tr.idm.b_m_s2) + 2.0 * tr.v + 8.0
        nc = np.maximum(tr.next_conn, 0)
        want = (tr.held >= 0) | (tr._conn_signal[nc] & (state[nc] == GREEN) & (dist_line > decide_m))
        got = K.may_enter(tr.v, tr.held, tr.next_conn, dist_line, tr._conn_signal, state, tr.idm.b_m_s2, GREEN)
        _same([got], [want])
        seen["enter"] += int(got.sum())
        moving = ~tr.parked
        acc = np.where(rng.random(tr.n) < 0.2, -9.0, rng.uniform(-4.0, 2.0, tr.n))  # some hard stops to 0
        kappa = tr.graph.packed.curvature_at(tr.road, tr.s)
        # the numpy move it replaced
        v_new = np.maximum(tr.v + acc * dt_s, 0.0)
        travel = np.where(moving, 0.5 * (tr.v + v_new) * dt_s, 0.0)
        v_want = np.where(moving, v_new, 0.0)
        p_want = tr.p + travel / np.clip(1.0 - kappa * tr.d, 0.5, 2.0)
        lateral = np.minimum(np.where(tr.cut_in, T.CUT_IN_M_S, T.LANE_CHANGE_M_S),
                             np.maximum(np.tan(tr._max_yaw) * v_want, T.CREEP_LATERAL_M_S))
        speed = lateral * dt_s
        step_want = np.clip(-tr.lat, -speed, speed) * moving
        lat_want = tr.lat + step_want
        p, lat = tr.p.copy(), tr.lat.copy()
        v_got, step_got = K.advance(tr.v, acc, moving, p, lat, kappa, tr.d, tr.cut_in, tr._max_yaw_tan, dt_s,
                                    T.CUT_IN_M_S, T.LANE_CHANGE_M_S, T.CREEP_LATERAL_M_S)
        _same([v_got, step_got, p, lat], [v_want, step_want, p_want, lat_want])
        seen["sideways"] += int((step_got != 0).sum())
        seen["stopped"] += int((moving & (v_got == 0)).sum())
    assert all(v > 0 for v in seen.values()), seen


def test_compiled_packed_pose_equals_the_numpy_one(snapshots):
    """``PackedRoads.pose`` on flat arrays (compiled) against its numpy way (taken for other shapes),
    off both ends of the roads too."""
    packed = snapshots[0][0].graph.packed
    rng = np.random.default_rng(2)
    k = 5000
    road = rng.integers(0, len(packed.n), k)
    s = rng.uniform(-5.0, 1.0, k) + rng.random(k) * packed.n[road] * 0.5 * 1.05
    d = rng.uniform(-8.0, 8.0, k)
    got = packed.pose(road, s, d)
    want = packed.pose(road[:, None], s[:, None], d[:, None])
    _same(list(got), [w[:, 0] for w in want])


def test_lane_end_kernels_equal_the_numpy_they_replace(snapshots):
    """Who is past its lane's end, and the grants released once the rear has left the connector."""
    rng = np.random.default_rng(4)
    seen = dict(past=0, released=0)
    for tr, *_ in snapshots:
        t = tr.table
        p = tr.p + rng.uniform(0.0, 6.0, tr.n)  # some past the end
        half = np.append(tr.dims[:, 0] / 2, EGO_LENGTH_M / 2)
        want = np.flatnonzero(~tr.parked & (p >= t.length_m[np.maximum(tr.lane, 0)]))
        _same([K.past_lane_end(tr.parked, tr.lane, p, t.length_m)], [want])
        held = tr.held.copy()
        out = (held >= 0) & (tr.lane == t.conn_dst[np.maximum(held, 0)]) & (p - half[:tr.n] > 0.5)
        want = np.where(out, -1, held)
        K.release_left_grants(held, tr.lane, p, half, t.conn_dst)
        _same([held], [want])
        seen["past"] += len(K.past_lane_end(tr.parked, tr.lane, p, t.length_m))
        seen["released"] += int(out.sum())
    assert all(v > 0 for v in seen.values()), seen


def test_compiled_packed_curvature_equals_the_numpy_one(snapshots):
    packed = snapshots[0][0].graph.packed
    rng = np.random.default_rng(5)
    k = 5000
    road = rng.integers(0, len(packed.n), k)
    s = rng.uniform(-5.0, 1.0, k) + rng.random(k) * packed.n[road] * 0.5 * 1.05
    s[:500] = np.round(s[:500] * 4) / 4  # sample halves: ties to even
    got = packed.curvature_at(road, s)
    want = packed.curvature_at(road[:, None], s[:, None])[:, 0]
    _same([got], [want])


def test_walker_kernels_equal_the_numpy_they_replace():
    """Pedestrians' yaw, their look for a gap in traffic and box assembly, on random states."""
    rng = np.random.default_rng(3)
    n = 4000
    h = rng.uniform(-4.0, 4.0, n)
    direction = rng.choice([-1, 1], n)
    phase = rng.integers(0, 5, n)
    d = rng.uniform(-9.0, 9.0, n)
    target_d = np.where(rng.random(n) < 0.2, d - 1e-9, rng.uniform(-9.0, 9.0, n))  # some exactly there
    yaw = h + np.where(direction > 0, 0.0, np.pi)
    want = np.where(phase >= P.WAIT_SIGNAL, h + np.sign(target_d - d + 1e-9) * np.pi / 2, yaw)
    _same([P._walker_yaw(h, direction, phase, target_d, d)], [want])
    w, v = 40, 100
    x, y = rng.uniform(0, 600, w), rng.uniform(0, 600, w)
    half_m, gap_s = rng.uniform(3.0, 12.0, w), rng.choice([1.0, 4.5], w)
    vehicles = np.stack([rng.uniform(0, 600, v), rng.uniform(0, 600, v), rng.uniform(0, 15, v)], 1)
    reach = half_m[:, None] + vehicles[None, :, 2] * gap_s[:, None]
    dist = np.hypot(vehicles[None, :, 0] - x[:, None], vehicles[None, :, 1] - y[:, None])
    want = ~(dist < reach).any(axis=1)
    got = P._no_vehicle_near(x, y, half_m, gap_s, *(np.ascontiguousarray(c) for c in vehicles.T))
    _same([got], [want])
    assert 0 < want.sum() < w
    cols = [rng.random(n) for _ in range(5)]
    _same([box_rows(*cols), box_rows(*cols[:3], 0.6, 0.6)],
          [np.stack(cols, axis=1), np.stack(cols[:3] + [np.full(n, 0.6)] * 2, axis=1)])


def test_cached_rules_follow_the_signals_and_the_sizes():
    env = gym.make("drivestack/TownNav-v0", render_camera=False).unwrapped
    env.reset(seed=4)
    tr = env.world.traffic
    for _ in range(60):
        env.step(np.zeros(2, np.float32))
        state, priority = tr.connector_states()
        want = tr._connector_states(*tr.signals.group_states())
        assert np.array_equal(state, want[0]) and np.array_equal(priority, want[1])
        assert np.array_equal(tr._connector_rules()[2], tr._stop_first(want[0]))
    plain = lambda: np.minimum(T.MAX_CHANGE_YAW_RAD, np.arcsin(np.minimum(T.SWING_M / (tr.dims[:, 0] / 2), 1.0)))
    assert np.array_equal(tr._max_yaw, plain()) and np.array_equal(tr._max_yaw_tan, np.tan(plain()))
    lane = next(ref for g, ref in enumerate(tr.table.refs)
                if not tr.table.is_connector[g] and tr.table.exit_start[g + 1] > tr.table.exit_start[g])
    g = tr.table.index[lane]
    tr.add_vehicle(lane, 5.0, 3.0, int(tr.table.exit_conn[tr.table.exit_start[g]]), kind=2)
    assert len(tr._max_yaw) == tr.n and np.array_equal(tr._max_yaw, plain())
    assert np.array_equal(tr._max_yaw_tan, np.tan(plain()))
    assert not math.isnan(float(tr._max_yaw.sum()))
