"""Compiled passes of ``GraphTraffic``: leaders along each vehicle's chain of lanes, junction
entry grants, and the gaps in a neighbouring lane.

Occupancy is a CSR table over lane ids (``lanes.LaneTable``): ``occ_start[lane]`` ..
``occ_start[lane + 1]`` index ``occ_p`` (progress [m], ascending) and ``occ_veh`` (the
vehicle, or ``n`` for the ego). A vehicle straddling two lanes during a lane change is listed
in both.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..kernels import boxes_overlap, idm_scalar


@numba.njit(cache=True)
def _first_ahead(lane, p_self, me, occ_start, occ_p, occ_veh):
    """(slot, progress) of the nearest occupant of ``lane`` at or beyond ``p_self``, not ``me``; slot -1 if none."""
    lo, hi = occ_start[lane], occ_start[lane + 1]
    k = lo + np.searchsorted(occ_p[lo:hi], p_self)
    while k < hi and occ_veh[k] == me:
        k += 1
    if k < hi:
        return k, occ_p[k]
    return -1, 0.0


@numba.njit(cache=True)
def _last_behind(lane, p_self, me, occ_start, occ_p, occ_veh):
    lo, hi = occ_start[lane], occ_start[lane + 1]
    k = lo + np.searchsorted(occ_p[lo:hi], p_self) - 1
    while k >= lo and occ_veh[k] == me:
        k -= 1
    if k >= lo:
        return k
    return -1


@numba.njit(cache=True)
def follow(idx, lane, lane2, p, half_len, v, free, next_conn, may_enter,
           occ_start, occ_p, occ_veh, lane_len, stop_p, is_conn, exit_start, exit_conn, conn_lane, conn_dst,
           t_s, s0_m, stop_s0_m, a_m_s2, two_sqrt_ab, max_brake_m_s2):
    """IDM acceleration of vehicles ``idx`` behind the nearest occupant along their chain (own
    lane(s), every connector out of the own lane, the next connector's exit lane), and braking
    for the stop line where they may not enter. Also: whether each is first in its lane, and
    its gap to the leader [m] (inf for none)."""
    m = idx.shape[0]
    acc = np.empty(m)
    head = np.zeros(m, np.bool_)
    gap_out = np.full(m, np.inf)
    for k in range(m):
        i = idx[k]
        g = lane[i]
        best, v_lead = np.inf, 0.0
        slot, pj = _first_ahead(g, p[i], i, occ_start, occ_p, occ_veh)
        if slot >= 0:
            j = occ_veh[slot]
            best, v_lead = pj - p[i] - half_len[i] - half_len[j], v[j]
        else:
            head[k] = True
            rem = lane_len[g] - p[i]
            if not is_conn[g]:
                for e in range(exit_start[g], exit_start[g + 1]):
                    cl = conn_lane[exit_conn[e]]
                    s2, pj = _first_ahead(cl, -1e9, i, occ_start, occ_p, occ_veh)
                    if s2 >= 0:
                        j = occ_veh[s2]
                        gap = rem + pj - half_len[i] - half_len[j]
                        if gap < best:
                            best, v_lead = gap, v[j]
                c = next_conn[i]
                if c >= 0:
                    rem += lane_len[conn_lane[c]]
                    dst = conn_dst[c]
                else:
                    dst = -1
            else:
                dst = conn_dst[g - conn_lane[0]]
            if dst >= 0:
                s2, pj = _first_ahead(dst, -1e9, i, occ_start, occ_p, occ_veh)
                if s2 >= 0:
                    j = occ_veh[s2]
                    gap = rem + pj - half_len[i] - half_len[j]
                    if gap < best:
                        best, v_lead = gap, v[j]
        g2 = lane2[i]
        if g2 >= 0:
            slot, pj = _first_ahead(g2, p[i], i, occ_start, occ_p, occ_veh)
            if slot >= 0:
                j = occ_veh[slot]
                gap = pj - p[i] - half_len[i] - half_len[j]
                if gap < best:
                    best, v_lead = gap, v[j]
        a = idm_scalar(v[i], free[i], best, v_lead, t_s, s0_m, a_m_s2, two_sqrt_ab, max_brake_m_s2)
        if not is_conn[g] and not may_enter[i]:
            stop_gap = stop_p[g] - p[i] - half_len[i]
            if stop_gap > -0.5:
                a = min(a, idm_scalar(v[i], free[i], max(stop_gap, 1e-3), 0.0, t_s, stop_s0_m, a_m_s2, two_sqrt_ab,
                                      max_brake_m_s2))
        acc[k] = a
        gap_out[k] = best
    return acc, head, gap_out


@numba.njit(cache=True)
def grant(cand, cand_conn, cand_gives_way, taken, conn_priority, approach_s, gap_accept_s,
          conflict_start, conflict_conn, room_m, need_m, conn_dst, ego_approach_s):
    """Junction entry grants for the requesting vehicles ``cand``, in priority order.

    A request is granted when no conflicting connector holds or has been granted a vehicle, none
    was refused to an earlier requester this step (first come, first served), the exit lane has
    room (do not block the box) and no one it gives way to reaches a conflicting connector within
    ``gap_accept_s``: ``cand_gives_way`` 0 (a movement with priority): no one; 1 (a yielding one):
    any vehicle with priority (``conn_priority``, ``approach_s`` [s]); 2 (a yielding driver out of
    patience): the ego only (``ego_approach_s``: when the ego reaches each connector where it has
    priority [s], inf elsewhere). ``taken`` (per connector) is updated."""
    out = np.zeros(cand.shape[0], np.bool_)
    refused = np.zeros(taken.shape[0], np.bool_)
    for k in range(cand.shape[0]):
        c = cand_conn[k]
        mode = cand_gives_way[k]
        ok = room_m[conn_dst[c]] >= need_m[k]
        for e in range(conflict_start[c], conflict_start[c + 1]):
            o = conflict_conn[e]
            if taken[o] > 0 or refused[o] or (mode == 1 and conn_priority[o] and approach_s[o] < gap_accept_s) or (
                    mode == 2 and ego_approach_s[o] < gap_accept_s):
                ok = False
                break
        if ok:
            taken[c] += 1
            room_m[conn_dst[c]] -= need_m[k]
            out[k] = True
        else:
            refused[c] = True
    return out


@numba.njit(cache=True)
def neighbour_gaps(idx, target, p, half_len, occ_start, occ_p, occ_veh):
    """Gap to the nearest occupant ahead and behind in each vehicle's target lane [m] (inf for
    none) and which vehicle they are (-1 for none)."""
    m = idx.shape[0]
    front, back = np.full(m, np.inf), np.full(m, np.inf)
    front_j, back_j = np.full(m, -1), np.full(m, -1)
    for k in range(m):
        i = idx[k]
        slot, pj = _first_ahead(target[k], p[i], i, occ_start, occ_p, occ_veh)
        if slot >= 0:
            j = occ_veh[slot]
            front[k], front_j[k] = pj - p[i] - half_len[i] - half_len[j], j
        slot = _last_behind(target[k], p[i], i, occ_start, occ_p, occ_veh)
        if slot >= 0:
            j = occ_veh[slot]
            back[k], back_j[k] = p[i] - occ_p[slot] - half_len[i] - half_len[j], j
    return front, front_j, back, back_j


@numba.njit(cache=True)
def connector_conflicts(path_xy, path_start, box_xy, box_cs, box_start, src, half_len, half_wid, conflict_m):
    """(C, C) bool: which connectors of one junction conflict (``lanes._conflicts`` says when).

    ``path_xy`` (P, 2) sampled centre paths [m], connector k's rows ``path_start[k]`` ..
    ``path_start[k + 1]``; ``box_xy`` (B, 2) and ``box_cs`` (B, 2) the centres [m] and (cos, sin)
    of the largest vehicle's placements along each, rows by ``box_start``; ``src`` (C,) approach
    lane of each (pairs from one approach never conflict). Per pair: the paths' smallest distance
    (``math.hypot``, as ``np.hypot``), then, only where it is below ``2 half_len + conflict_m``, the
    separating-axis test of ``sim.collision.obb_overlap`` on every placement pair with its
    arithmetic in the same order, skipping pairs whose circumscribed circles are apart (they
    cannot touch), and stopping at the first overlap."""
    c_n = src.shape[0]
    out = np.zeros((c_n, c_n), np.bool_)
    reach2 = 4.0 * (half_len * half_len + half_wid * half_wid) * (1.0 + 1e-9) + 1e-9
    for a in range(c_n):
        for b in range(a + 1, c_n):
            if src[a] == src[b]:
                continue
            gap = np.inf
            for i in range(path_start[a], path_start[a + 1]):
                for j in range(path_start[b], path_start[b + 1]):
                    h = math.hypot(path_xy[i, 0] - path_xy[j, 0], path_xy[i, 1] - path_xy[j, 1])
                    if h < gap:
                        gap = h
            hit = gap < conflict_m
            if not hit and gap < 2.0 * half_len + conflict_m:
                hit = _any_box_overlap(box_xy, box_cs, box_start[a], box_start[a + 1], box_start[b],
                                       box_start[b + 1], half_len, half_wid, reach2)
            out[a, b] = out[b, a] = hit
    return out


@numba.njit(cache=True)
def _any_box_overlap(xy, cs, a0, a1, b0, b1, hl, hw, reach2):
    for i in range(a0, a1):
        ax, ay, ac, as_ = xy[i, 0], xy[i, 1], cs[i, 0], cs[i, 1]
        for j in range(b0, b1):
            bx, by, bc, bs = xy[j, 0], xy[j, 1], cs[j, 0], cs[j, 1]
            dx, dy = bx - ax, by - ay
            if dx * dx + dy * dy > reach2:
                continue
            if boxes_overlap(dx, dy, ac, as_, hl, hw, bc, bs, hl, hw):
                return True
    return False


@numba.njit(cache=True)
def walker_gaps(x, y, cos_yaw, sin_yaw, length, width, parked, wx, wy, clearance_m, look_m):
    """Per vehicle, the gap [m] from its front (less ``clearance_m``) to the nearest walker (``wx``,
    ``wy``) ahead within ``look_m`` whose centre is within half its width plus ``clearance_m`` of
    its centre line; inf for none and for parked cars. The arithmetic of the (vehicles x walkers)
    numpy expressions it replaces, in their order."""
    n = x.shape[0]
    gap = np.full(n, np.inf)
    for i in range(n):
        if parked[i]:
            continue
        c, s = cos_yaw[i], sin_yaw[i]
        reach = width[i] / 2 + clearance_m
        for w in range(wx.shape[0]):
            dx, dy = wx[w] - x[i], wy[w] - y[i]
            along = dx * c + dy * s
            across = (-dx) * s + dy * c
            if along > 0 and along < look_m and abs(across) < reach:
                g = along - length[i] / 2 - clearance_m
                if g < gap[i]:
                    gap[i] = g
    return gap


# --- per-step bookkeeping of ``GraphTraffic.step`` -----------------------------------------------
# Each kernel below replaces a run of small numpy expressions over every vehicle; they keep the
# expressions' arithmetic in its order (only + - * / and sqrt, which round as numpy's do), so the
# world stays bit-identical. Transcendentals (sin, cos, tan, atan2, pow) stay in numpy.


@numba.njit(cache=True)
def frenet_state(lane, p, lat, parked, cyclist, lane_road, lane_dir, lane_d, lane_width, lane_len, parked_rsd,
                 cyclist_edge_m):
    """Road, s [m], d [m] and direction of every vehicle (``GraphTraffic._sync``): from its lane
    state, a cyclist near its lane's right edge; parked cars (the last ones) from ``parked_rsd``."""
    n = lane.shape[0]
    road = np.empty(n, np.int64)
    direction = np.empty(n, np.int64)
    s = np.empty(n)
    d = np.empty(n)
    first_parked = n - parked_rsd.shape[0]
    for i in range(n):
        if parked[i]:
            k = i - first_parked
            road[i] = np.int64(parked_rsd[k, 0])
            s[i] = parked_rsd[k, 1]
            d[i] = parked_rsd[k, 2]
            direction[i] = 1 if parked_rsd[k, 2] < 0 else -1
            continue
        g = max(lane[i], 0)
        road[i] = lane_road[g]
        direction[i] = lane_dir[g]
        s[i] = p[i] if direction[i] > 0 else lane_len[g] - p[i]
        keep_right = max(lane_width[g] / 2 - cyclist_edge_m, 0.0) if cyclist[i] else 0.0
        d[i] = lane_d[g] - direction[i] * (lat[i] + keep_right)
    return road, direction, s, d


@numba.njit(cache=True)
def second_lane(lane, lat, width, parked, lane_width, group_first, group_lanes, swing_m):
    """The neighbouring lane a changing vehicle still (or already) reaches into, -1 for none
    (``width``: each vehicle's width [m])."""
    n = lane.shape[0]
    out = np.full(n, -1, np.int64)
    for i in range(n):
        g = max(lane[i], 0)
        reach = lane_width[g] / 2 - width[i] / 2 - swing_m
        k = g - group_first[g]
        other = k - 1 if lat[i] < 0 else k + 1
        if abs(lat[i]) > reach and other >= 0 and other < group_lanes[g] and not parked[i]:
            out[i] = group_first[g] + other
    return out


@numba.njit(cache=True)
def street_state(lane, p, v, half_len, parked, next_conn, held, stopped_at_s, speed_factor, max_speed, state,
                 stop_first, lane_len, stop_p, is_conn, lane_limit, conn_limit, time_s, b_m_s2, green, yellow_stop_m_s2,
                 stop_zone_m, stop_done_m_s):
    """Per vehicle: on a street (not a connector, not parked), its front bumper's distance to the
    stop line [m] and its desired speed [m/s] (limit times its factor, eased down before a turn);
    in place: grants released whose light turned while stopping is still comfortable (not a stop
    sign's or a right on red's after its stop), and the time a stop at the line began [s]."""
    n = lane.shape[0]
    on_street = np.zeros(n, np.bool_)
    dist_line = np.empty(n)
    v_des = np.empty(n)
    for i in range(n):
        g = max(lane[i], 0)
        on_street[i] = not parked[i] and not is_conn[g]
        dist_line[i] = stop_p[g] - p[i] - half_len[i]
        h = max(held[i], 0)
        if on_street[i] and held[i] >= 0 and dist_line[i] > -0.3 and state[h] != green \
                and dist_line[i] >= v[i] * v[i] / (2 * yellow_stop_m_s2) \
                and not (stop_first[h] and np.isfinite(stopped_at_s[i])):
            held[i] = -1
        if on_street[i] and dist_line[i] < stop_zone_m and dist_line[i] > -0.3 and v[i] < stop_done_m_s \
                and not np.isfinite(stopped_at_s[i]):
            stopped_at_s[i] = time_s
        want = min(lane_limit[g] * speed_factor[i], max_speed[i])
        if parked[i]:
            v_des[i] = 0.0
        elif on_street[i] and next_conn[i] >= 0:
            turn_v = conn_limit[next_conn[i]]
            to_end = max(lane_len[g] - p[i], 0.0)
            v_des[i] = min(want, np.sqrt(turn_v * turn_v + 2.0 * b_m_s2 * 0.5 * to_end))
        else:
            v_des[i] = want
    return on_street, dist_line, v_des


@numba.njit(cache=True)
def occupancy(idx, lane, p, second, parked_lane, parked_p, parked_veh, ego_lane, ego_p, ego_second, ego_second_p, ego_veh,
              n_lanes):
    """CSR occupancy of every lane (see the module doc): moving vehicles ``idx`` in their lane and,
    while straddling, in ``second``; parked cars; the ego (``ego_lane`` -1 for none), also in
    ``ego_second`` (-1 for none) at ``ego_second_p`` while its body reaches into that lane. Sorted by lane, then
    progress, ties in that listing order (``np.lexsort``'s order)."""
    m = idx.shape[0]
    two = 0
    for k in range(m):
        if second[idx[k]] >= 0:
            two += 1
    total = m + two + parked_lane.shape[0] + (1 if ego_lane >= 0 else 0) + (1 if ego_second >= 0 else 0)
    lanes = np.empty(total, np.int64)
    ps = np.empty(total)
    veh = np.empty(total, np.int64)
    for k in range(m):
        lanes[k], ps[k], veh[k] = lane[idx[k]], p[idx[k]], idx[k]
    r = m
    for k in range(m):
        i = idx[k]
        if second[i] >= 0:
            lanes[r], ps[r], veh[r] = second[i], p[i], i
            r += 1
    for k in range(parked_lane.shape[0]):
        lanes[r], ps[r], veh[r] = parked_lane[k], parked_p[k], parked_veh[k]
        r += 1
    if ego_lane >= 0:
        lanes[r], ps[r], veh[r] = ego_lane, ego_p, ego_veh
        r += 1
    if ego_second >= 0:
        lanes[r], ps[r], veh[r] = ego_second, ego_second_p, ego_veh
    by_p = np.argsort(ps, kind="mergesort")  # stable: ties keep the listing order
    start = np.zeros(n_lanes + 1, np.int64)
    for k in range(total):
        start[lanes[k] + 1] += 1
    for g in range(n_lanes):
        start[g + 1] += start[g]
    fill = start[:-1].copy()
    occ_p = np.empty(total)
    occ_veh = np.empty(total, np.int64)
    for k in by_p:  # a stable counting sort by lane
        g = lanes[k]
        occ_p[fill[g]], occ_veh[fill[g]] = ps[k], veh[k]
        fill[g] += 1
    return start, occ_p, occ_veh


@numba.njit(cache=True)
def requests(lane, lat, v, held, next_conn, stopped_at_s, on_street, dist_line, stop_first, state, occ_start,
             occ_veh, conn_src, n_conn, time_s, b_m_s2, green, yellow, yellow_stop_m_s2):
    """The first half of ``GraphTraffic._grant``: vehicles that ask for their connector now
    (first in their lane, in the approach lane, ready: stopped at a stop line, or a light that
    lets them go and close enough to decide), ascending; each one's arrival time [s] (its stop's
    time at a stop line); per connector the soonest time a vehicle waiting for it reaches it [s]
    and how many vehicles hold it."""
    n = lane.shape[0]
    head = np.zeros(n + 1, np.bool_)
    for g in range(occ_start.shape[0] - 1):
        if occ_start[g + 1] > occ_start[g]:
            head[occ_veh[occ_start[g + 1] - 1]] = True
    approach = np.full(n_conn, np.inf)
    taken = np.zeros(n_conn, np.int64)
    cand = np.empty(n, np.int64)
    arrival = np.empty(n)
    m = 0
    for i in range(n):
        if held[i] >= 0:
            taken[held[i]] += 1
        c = max(next_conn[i], 0)
        waiting = on_street[i] and held[i] < 0 and next_conn[i] >= 0 and conn_src[c] == lane[i] and abs(lat[i]) < 0.3
        if not waiting or not dist_line[i] > -0.3:
            continue
        to_line_s = max(dist_line[i], 0.0) / max(v[i], 1.0)
        approach[c] = min(approach[c], to_line_s)
        if not head[i]:
            continue
        if stop_first[c]:
            ready = np.isfinite(stopped_at_s[i])
        else:
            decide_m = v[i] * v[i] / (2 * b_m_s2) + 2.0 * v[i] + 8.0
            light_ok = state[c] == green or (state[c] == yellow and dist_line[i] < v[i] * v[i] / (2 * yellow_stop_m_s2))
            ready = light_ok and dist_line[i] < decide_m
        if ready:
            cand[m] = i
            arrival[m] = stopped_at_s[i] if stop_first[c] else time_s + to_line_s
            m += 1
    return cand[:m], arrival[:m], approach, taken


@numba.njit(cache=True)
def exit_room(lane, held, half_len, occ_start, occ_p, occ_veh, conn_dst):
    """Room on each lane behind its last vehicle [m] (inf for an empty one), less what has been
    granted into it (vehicles holding a connector not yet on its exit lane)."""
    n_lanes = occ_start.shape[0] - 1
    room = np.full(n_lanes, np.inf)
    for g in range(n_lanes):
        if occ_start[g] < occ_start[g + 1]:
            room[g] = occ_p[occ_start[g]] - half_len[occ_veh[occ_start[g]]]
    for i in range(held.shape[0]):
        if held[i] >= 0 and lane[i] != conn_dst[held[i]]:
            room[conn_dst[held[i]]] -= 2 * half_len[i] + 2.0
    return room


@numba.njit(cache=True)
def lane_change_due(idx, lane, lat, held, p, lc_phase, is_conn, group_lanes, time_s, period_s, dt_s):
    """Vehicles ``idx`` whose periodic lane check falls in this step (``np.mod``'s remainder: fmod,
    shifted into the divisor's sign), on a street with more than one lane in their direction, in
    a lane (not changing), not holding a grant, past its first 5 m."""
    due = np.zeros(lane.shape[0], np.bool_)
    for i in idx:
        mod = np.fmod(time_s + lc_phase[i], period_s)  # exact, as C fmod
        if mod != 0.0 and (period_s < 0.0) != (mod < 0.0):
            mod += period_s
        g = max(lane[i], 0)
        due[i] = mod < dt_s and not is_conn[g] and abs(lat[i]) < 0.05 and held[i] < 0 and group_lanes[g] > 1 \
            and p[i] > 5.0
    return due


@numba.njit(cache=True)
def lane_change_needs(due, lane, next_conn, v, dist_line, lead_gap, cut_in, cyclist, speed_factor, lane_limit,
                      conn_src, exit_start, no_change_m, squeeze_m, give_up_m, held_up_m):
    """Per vehicle, for ``GraphTraffic._lane_changes``: lanes to the one its connector leaves from
    (+ right), whether it must change now (far enough from the line, or its lane ends), may squeeze
    in (its lane ends soon), gives its turn up (too close), or is held up below its speed (before
    the discretionary draw)."""
    n = lane.shape[0]
    need = np.zeros(n, np.int64)
    mandatory = np.zeros(n, np.bool_)
    squeeze = np.zeros(n, np.bool_)
    give_up = np.zeros(n, np.bool_)
    slow = np.zeros(n, np.bool_)
    for i in range(n):
        g = max(lane[i], 0)
        if next_conn[i] >= 0:
            need[i] = conn_src[next_conn[i]] - lane[i]
        far = dist_line[i] > no_change_m
        dead_end = exit_start[g + 1] == exit_start[g]
        squeeze[i] = dead_end and dist_line[i] < squeeze_m
        mandatory[i] = due[i] and need[i] != 0 and (far or dead_end)
        give_up[i] = due[i] and need[i] != 0 and dist_line[i] < give_up_m
        eager = 0.95 if cut_in[i] else 0.7  # cut-in drivers want their speed more
        slow[i] = due[i] and need[i] == 0 and far and v[i] < eager * lane_limit[g] * speed_factor[i] \
            and lead_gap[i] < held_up_m and not cyclist[i]
    return need, mandatory, squeeze, give_up, slow


@numba.njit(cache=True)
def lane_change_steps(mandatory, need, slow, cut_in, keen_draw, side_draw, keen_p, lane, group_first, group_lanes):
    """Lanes to move (-1 left... +1 right, 0 none) per vehicle: toward its connector's lane where
    mandatory, else, held up and keen (a cut-in driver, or ``keen_draw`` below ``keen_p``), to a
    side drawn by ``side_draw`` (the other one at the street's edge); and the vehicles that move."""
    n = lane.shape[0]
    step = np.zeros(n, np.int64)
    for i in range(n):
        if mandatory[i]:
            step[i] = 1 if need[i] > 0 else -1
        elif slow[i] and (cut_in[i] or keen_draw[i] < keen_p):
            g = max(lane[i], 0)
            k = lane[i] - group_first[g]
            side = -1 if side_draw[i] < 0.5 else 1
            if k + side < 0 or k + side >= group_lanes[g]:
                side = -side
            step[i] = side
    return np.flatnonzero(step != 0), step


@numba.njit(cache=True)
def may_enter(v, held, next_conn, dist_line, conn_signal, state, b_m_s2, green):
    """Who may drive past its stop line: a grant holder, or one with a green light still too far
    to decide on it."""
    n = v.shape[0]
    out = np.zeros(n, np.bool_)
    for i in range(n):
        c = max(next_conn[i], 0)
        decide_m = v[i] * v[i] / (2 * b_m_s2) + 2.0 * v[i] + 8.0
        out[i] = held[i] >= 0 or (conn_signal[c] and state[c] == green and dist_line[i] > decide_m)
    return out


@numba.njit(cache=True)
def advance(v, acc, moving, p, lat, kappa, d, cut_in, tan_max_yaw, dt_s, cut_in_m_s, lane_change_m_s, creep_m_s):
    """One step of speed [m/s] (a new array), progress along the lane [m] (the centre line's pace
    at the vehicle's offset, ``kappa`` [1/m] at ``d`` [m]) and the lane change's sideways
    offset [m] (both in place; no faster sideways than the heading cap allows, or a creep).
    Returns (speed, sideways step [m])."""
    n = v.shape[0]
    v_out = np.empty(n)
    lat_step = np.empty(n)
    for i in range(n):
        v_new = max(v[i] + acc[i] * dt_s, 0.0)
        travel = 0.5 * (v[i] + v_new) * dt_s if moving[i] else 0.0
        v_out[i] = v_new if moving[i] else 0.0
        p[i] += travel / min(max(1.0 - kappa[i] * d[i], 0.5), 2.0)
        lateral = min(cut_in_m_s if cut_in[i] else lane_change_m_s, max(tan_max_yaw[i] * v_out[i], creep_m_s))
        speed = lateral * dt_s
        lat_step[i] = min(max(-lat[i], -speed), speed) * (1.0 if moving[i] else 0.0)
        lat[i] += lat_step[i]
    return v_out, lat_step


@numba.njit(cache=True)
def past_lane_end(parked, lane, p, lane_len):
    """Moving vehicles whose progress reached their lane's length, ascending."""
    out = np.empty(lane.shape[0], np.int64)
    m = 0
    for i in range(lane.shape[0]):
        if not parked[i] and p[i] >= lane_len[max(lane[i], 0)]:
            out[m] = i
            m += 1
    return out[:m]


@numba.njit(cache=True)
def release_left_grants(held, lane, p, half_len, conn_dst):
    """In place: a grant ends once the holder's rear has left the connector (0.5 m into its exit lane)."""
    for i in range(held.shape[0]):
        if held[i] >= 0 and lane[i] == conn_dst[held[i]] and p[i] - half_len[i] > 0.5:
            held[i] = -1
