"""How simulated drivers (``GraphTraffic``) treat the ego's body beyond the lane table's one point for it.

- ``ego_contact_accel``: where the lane table cannot place the ego (off the lanes, or in a junction box) a
  driver looks along its own path, the lane it is on, then the connector it will take and that connector's
  exit lane, and stops short of the first place on that path where its body would touch the ego's box. A
  straight look down the vehicle's heading (what drivers did before) stopped a car turning in the box for an
  ego its curve passed by; the ego's junction rules then waited for that car, and both stood until the time
  limit (four of the rule-based driver's five validation time limits in session 20 were such waits).
- ``give_way_to_ego``: a driver granted a connector across the one the ego is on or pulling into gives the
  grant back where it can still stop at its line (one granted while the ego stood at its own line drove on
  into the ego's side once it moved).
- ``ego_first_in_lane``: a slow ego near its junction counts as arriving there only with no one queued ahead.
- ``ego_reach``: while the ego's body reaches into a neighbour lane, drivers there follow it, as they
  follow a simulated car straddling the line (they saw a changing ego only once its centre crossed); while it
  reaches over the centre line, oncoming drivers stop short of its box (``ego_contact_accel``), as for an ego
  off the lane table.
"""

from __future__ import annotations

import math

import numpy as np

from common.vocab import EGO_LENGTH_M, EGO_WIDTH_M

from ..collision import obb_overlap

LOOK_M = 30.0  # how far along its path a driver looks for the ego's body [m]
STEP_M = 0.5  # spacing of the body poses tested along that path [m]
SQUEEZE_M = 0.15  # sideways room a driver leaves the ego's body when passing it [m]
SQUEEZE_STILL_M = 0.03  # ... when the ego stands: it edges past (else both may wait for each other for good) [m]
EGO_STILL_M_S = 0.3  # the ego stands below this speed [m/s]
_EGO_REACH_M = float(np.hypot(EGO_LENGTH_M, EGO_WIDTH_M) / 2)  # centre to a corner of the ego's box [m]


def path_samples(traffic, idx: np.ndarray, ds_m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(road, s [m], d [m], forward), each (len(idx), len(ds_m)): the lane-chain places ``ds_m`` ahead of each
    vehicle ``idx`` of ``traffic`` (a ``GraphTraffic``): its own lane (at its current lateral place),
    then on a street lane the connector it holds or will ask for, then that connector's exit lane
    (the centres of both); the last lane's end where the chain stops. ``forward``: the lane runs
    along its road's +s (else travel heads against the road's heading)."""
    t = traffic.table
    lane = traffic.lane[idx][:, None] + np.zeros(ds_m.size, np.int64)[None]
    p = traffic.p[idx][:, None] + ds_m[None]
    d = np.broadcast_to(traffic.d[idx][:, None], p.shape).copy()
    conn = np.where(traffic.held[idx] >= 0, traffic.held[idx], traffic.next_conn[idx])[:, None]
    for _ in range(2):  # street lane -> connector -> exit lane, or connector -> exit lane
        past = p > t.length_m[lane]
        on_conn = t.is_connector[lane]
        c = np.where(on_conn, lane - t.conn_lane[0], conn)
        nxt = np.where(on_conn, t.conn_dst[np.maximum(c, 0)], t.conn_lane[np.maximum(c, 0)])
        go = past & (c >= 0)
        p = np.where(go, p - t.length_m[lane], p)
        lane = np.where(go, nxt, lane)
        d = np.where(go, traffic._lane_d[lane], d)
        conn = np.where(go, -1, conn)  # used (or, past a connector, nothing more is planned)
    p = np.minimum(p, t.length_m[lane])
    forward = traffic._lane_dir[lane] > 0
    s = np.where(forward, p, t.length_m[lane] - p)
    return traffic._lane_road[lane], s, d, forward


def ego_contact_accel(traffic, ego: tuple[float, float, float, float], idm_accel_fn,
                      room_ahead_m: float = 0.0) -> np.ndarray:
    """Per vehicle, the IDM acceleration [m/s^2] that stops it short of the ego's box on its path
    (``np.inf`` where its path within ``LOOK_M`` stays clear of it). ``ego``: x, y [m], yaw [rad],
    speed [m/s]; ``idm_accel_fn(vehicles, gap_m, v_lead_m_s)``: the IDM acceleration of those vehicle indices
    behind a leader that far ahead at that speed (``GraphTraffic`` knows their speeds and desired speeds). The ego
    counts as a leader moving at its speed along the path there. ``room_ahead_m``: the box reaches this much
    further ahead of the ego's front (the road it needs to finish a pass and get back into its lane) [m]."""
    ex, ey, eyaw, ev = ego  # the ego's centre decides what is ahead of a driver; its box (with the room) what it hits
    bx, by = ex + 0.5 * room_ahead_m * math.cos(eyaw), ey + 0.5 * room_ahead_m * math.sin(eyaw)
    out = np.full(traffic.n, np.inf)
    x, y, yaw = traffic.poses()
    half = traffic.dims[:, 0] / 2
    dx, dy = bx - x, by - y
    along = dx * np.cos(yaw) + dy * np.sin(yaw)
    near = np.hypot(dx, dy) < LOOK_M + half + _EGO_REACH_M + 0.5 * room_ahead_m
    idx = np.flatnonzero(near & (along > -half - _EGO_REACH_M - 0.5 * room_ahead_m) & ~traffic.parked)
    if idx.size == 0:
        return out
    ds = np.arange(0.0, LOOK_M + 1e-9, STEP_M)
    margin = SQUEEZE_STILL_M if ev < EGO_STILL_M_S else SQUEEZE_M
    road, s, d, forward = path_samples(traffic, idx, ds)
    shape = road.shape
    px, py, heading = (a.reshape(shape) for a in traffic.graph.packed.pose(road.ravel(), s.ravel(), d.ravel()))
    heading = np.where(forward, heading, heading + np.pi)
    bodies = np.stack([px, py, heading, np.broadcast_to(traffic.dims[idx, 0:1], shape),
                       np.broadcast_to(traffic.dims[idx, 1:2] + 2 * margin, shape)], -1)
    ego_box = np.array([bx, by, eyaw, EGO_LENGTH_M + room_ahead_m, EGO_WIDTH_M])
    # a contact counts where the ego is ahead of the body's centre there (one it already left behind
    # or brushes with its rear is not in its way)
    ahead = (ex - px) * np.cos(heading) + (ey - py) * np.sin(heading) > 0.0
    hit = obb_overlap(bodies, ego_box) & ahead
    rows = np.flatnonzero(hit.any(1))
    if rows.size == 0:
        return out
    k = hit[rows].argmax(1)
    gap = np.maximum(ds[k] - STEP_M, 0.0)  # the last pose tested clear
    v_lead = max(ev, 0.0) * np.maximum(np.cos(eyaw - heading[rows, k]), 0.0)
    out[idx[rows]] = idm_accel_fn(idx[rows], gap, v_lead)
    return out


def give_way_to_ego(traffic, ego_conn: int, on_street: np.ndarray, dist_line_m: np.ndarray, taken: np.ndarray,
                    stop_m_s2: float) -> None:
    """Drivers holding a grant for a connector across ``ego_conn``, still before their stop line and able to
    stop there braking at ``stop_m_s2``, give it back (``traffic.held``, and ``taken``: grants per connector,
    both in place) and wait: a driver who sees a car pull out in front stops, whoever had the right of way."""
    t = traffic.table
    across = t.conflict_conn[t.conflict_start[ego_conn]:t.conflict_start[ego_conn + 1]]
    held = traffic.held
    back = np.flatnonzero(on_street & np.isin(held, across) & (dist_line_m > -0.3)
                          & (dist_line_m >= traffic.v * traffic.v / (2 * stop_m_s2)))
    back = back[traffic.lane[back] == t.conn_src[held[back]]]  # not yet on the connector
    np.subtract.at(taken, held[back], 1)
    held[back] = -1


def ego_first_in_lane(occ, g: int, ego_veh: int, parked: np.ndarray) -> bool:
    """Whether no moving vehicle is ahead of the ego in lane ``g`` (-1: off the lane table, taken as first) of the
    CSR occupancy ``occ`` (``GraphTraffic._occupancy``; the ego is row ``ego_veh``, parked cars do not queue)."""
    if g < 0:
        return True
    start, _, occ_veh = occ
    rows = occ_veh[start[g]:start[g + 1]]  # sorted by progress along the lane
    ahead = rows[int(np.flatnonzero(rows == ego_veh)[-1]) + 1:]
    ahead = ahead[ahead != ego_veh]
    return not (~parked[ahead]).any()


def _ego_side_reach(traffic, g: int, road_s_m: float, pose: tuple[float, float, float]) -> tuple[float, float]:
    """(left, across) [m] of the ego's body at ``pose`` (x, y [m], yaw [rad]; road s ``road_s_m`` [m]) against
    street lane ``g``: its centre's offset left of the lane centre (left of travel) and half its extent across
    the lane."""
    px, py, h = traffic.graph.packed.pose(traffic._lane_road[g:g + 1], np.array([road_s_m]), traffic._lane_d[g:g + 1])
    heading = float(h[0]) + (0.0 if traffic._lane_dir[g] > 0 else math.pi)
    ex, ey, eyaw = pose
    left = -(ex - float(px[0])) * math.sin(heading) + (ey - float(py[0])) * math.cos(heading)
    err = eyaw - heading
    return left, abs(math.sin(err)) * EGO_LENGTH_M / 2 + abs(math.cos(err)) * EGO_WIDTH_M / 2


def ego_reach(traffic, g: int, road_s_m: float, pose: tuple[float, float, float], swing_m: float) -> tuple[int, bool]:
    """Where the ego's body at ``pose`` (x, y [m], yaw [rad]; on lane ``g`` at road s ``road_s_m`` [m]) reaches
    beyond street lane ``g``, its side within ``swing_m`` of a line as a changing vehicle's
    (``traffic_kernels.second_lane``): the neighbour lane of the same street direction it reaches into (-1 for
    none), and whether it reaches over the centre line into an oncoming lane (pulled out past a parked car, or
    across its road). The lane table places the ego in its own street direction only, so drivers in the neighbour
    lane follow it through the occupancy and oncoming drivers look for its box on their path
    (``ego_contact_accel``); before, they drove into an ego standing half in their lane (two head-ons of the
    rule-based driver on validation routes, sessions 28-29)."""
    t = traffic.table
    if g < 0 or t.is_connector[g]:
        return -1, False
    k = g - t.group_first[g]  # lane 0 is the leftmost of its street direction
    if t.group_lanes[g] < 2 and not (k == 0 and traffic._has_oncoming[g]):
        return -1, False  # nothing beside it to reach into
    left, across = _ego_side_reach(traffic, g, road_s_m, pose)
    reach = traffic._lane_width[g] / 2 - swing_m
    over_left, over_right = left + across > reach, across - left > reach
    second = g - 1 if over_left and k > 0 else g + 1 if over_right and k < t.group_lanes[g] - 1 else -1
    return second, bool(over_left and k == 0 and traffic._has_oncoming[g])
