"""Small numba kernels for the per-step searches that numpy would do as (vehicles x obstacles) matrices.

With a few dozen vehicles the matrices are tiny and numpy's per-call overhead dominates; one
compiled loop is several times faster. The arithmetic is written in exactly the order the numpy
expressions used (no fastmath), so results are bit-identical. Pass float64 / int64 arrays only,
so each kernel compiles one signature (``cache=True`` keeps it across processes).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def leader_search(idx, d_self, s, direction, length, width, road,
                  obs_s, obs_d, obs_half_len, obs_half_wid, obs_vehicle, obs_road):
    """Gap [m] to the nearest obstacle ahead in each vehicle's corridor, and that obstacle's index.

    ``idx`` (K,) vehicles searching, at lateral offsets ``d_self`` (K,) [m]; ``s``, ``direction``,
    ``length``, ``width``, ``road`` are per-vehicle arrays of all vehicles; ``obs_*`` (M,) the
    obstacles of all roads, ``obs_road`` the road each lies on. Only obstacles on the searching
    vehicle's road count. Gap is inf and the index the first obstacle of that road when none is ahead.
    """
    k_n = idx.shape[0]
    gap = np.full(k_n, np.inf)
    lead = np.zeros(k_n, np.int64)
    for k in range(k_n):
        i = idx[k]
        r = road[i]
        first = -1
        best = np.inf
        best_j = -1
        half_w = width[i] / 2
        half_l = length[i] / 2
        for j in range(obs_s.shape[0]):
            if obs_road[j] != r:
                continue
            if first < 0:
                first = j
            rel = (obs_s[j] - s[i]) * direction[i]
            if not rel > 0:
                continue
            if not abs(obs_d[j] - d_self[k]) < (obs_half_wid[j] + half_w + 0.2):
                continue
            if obs_vehicle[j] == i:
                continue
            g = rel - obs_half_len[j] - half_l
            if g < best:
                best = g
                best_j = j
        gap[k] = best
        lead[k] = best_j if best_j >= 0 else max(first, 0)
    return gap, lead


@numba.njit(cache=True)
def stop_line_gap(idx, s, direction, length, v, road, b_m_s2, stop_road, stop_s, stop_dir, stop_state,
                  red, yellow):
    """Gap [m] to the nearest stop line ahead that a vehicle must stop for (inf for none).

    A line counts when it shows red, or yellow while stopping before it is still comfortable
    (farther than the braking distance at ``b_m_s2`` plus 1 m); lines just passed (> -0.5 m) count.
    """
    k_n = idx.shape[0]
    gap = np.full(k_n, np.inf)
    for k in range(k_n):
        i = idx[k]
        for j in range(stop_s.shape[0]):
            if stop_road[j] != road[i] or stop_dir[j] != direction[i]:
                continue
            dist = (stop_s[j] - s[i]) * direction[i] - length[i] / 2
            if not dist > -0.5:
                continue
            comfortable = dist > v[i] * v[i] / (2 * b_m_s2) + 1.0
            if stop_state[j] == red or (stop_state[j] == yellow and comfortable):
                g = max(dist, 0.01)
                if g < gap[k]:
                    gap[k] = g
    return gap


@numba.njit(cache=True)
def project_to_centreline(px, py, xy, cos_h, sin_h, lo, hi, step_m, length_m):
    """Frenet (s, d) of points (px, py): the nearest centreline sample in rows [lo, hi), refined
    along its tangent (``Road.project``; ``cos_h``/``sin_h`` are the samples' heading cos/sin)."""
    n = px.shape[0]
    s = np.empty(n)
    d = np.empty(n)
    for k in range(n):
        s[k], d[k] = project_point_to_centreline(px[k], py[k], xy, cos_h, sin_h, lo, hi, step_m, length_m)
    return s, d


@numba.njit(cache=True, inline="always")  # inlined into project_to_centreline's loop as its body was
def project_point_to_centreline(x, y, xy, cos_h, sin_h, lo, hi, step_m, length_m):
    """``project_to_centreline`` of one point, as plain floats (s, d) [m]."""
    best = np.inf
    i = lo
    for j in range(lo, hi):
        dx = x - xy[j, 0]
        dy = y - xy[j, 1]
        d2 = dx * dx + dy * dy
        if d2 < best:
            best = d2
            i = j
    rx = x - xy[i, 0]
    ry = y - xy[i, 1]
    along = rx * cos_h[i] + ry * sin_h[i]
    return min(max(i * step_m + along, 0.0), length_m), -rx * sin_h[i] + ry * cos_h[i]


@numba.njit(cache=True)
def pedestrians_step(s, d, direction, speed, mode, target_d, crossed_at, yaw_local, draws, dt_s, ego_s, road_length_m,
                     walk_d_right, walk_d_left, inter_s, inter_half_m, inter_crosswalk_m, main_state, side_state,
                     cross_at_crosswalk_p, jaywalk_p, walk, cross, wait, red):
    """One step of every pedestrian, in place (``Pedestrians.step`` documents the rules).

    ``draws`` (intersections + 1, N) are the uniform draws: one row per intersection for
    "cross here?", the last for jaywalking. Pedestrians do not interact, so each is stepped on its own.
    """
    n_inter = inter_s.shape[0]
    for i in range(s.shape[0]):
        walking = mode[i] == walk
        for k in range(n_inter):
            kerb = inter_half_m[k] + 0.3
            next_s = s[i] + direction[i] * speed[i] * dt_s
            # walking along: stop at a side road's kerb unless its traffic has red
            if walking and abs(s[i] - inter_s[k]) >= kerb and abs(next_s - inter_s[k]) < kerb and side_state[k] != red:
                mode[i] = wait
            # reached this intersection's crosswalk over the main road: maybe cross
            cw = inter_s[k] + np.sign(s[i] - inter_s[k]) * (inter_half_m[k] + inter_crosswalk_m[k] / 2)
            if walking and abs(s[i] - cw) < 0.5 and crossed_at[i] != k:
                crossed_at[i] = k
                if draws[k, i] < cross_at_crosswalk_p:
                    s[i] = cw
                    mode[i] = wait
                    target_d[i] = walk_d_right if d[i] > 0 else walk_d_left
        # waiting: go when the relevant road shows red to its traffic
        if mode[i] == wait:
            for k in range(n_inter):
                if abs(s[i] - inter_s[k]) < inter_half_m[k] + inter_crosswalk_m[k] + 1:
                    if abs(target_d[i] - d[i]) > 1.0:
                        if main_state[k] == red:
                            mode[i] = cross
                    elif side_state[k] == red:
                        mode[i] = walk
        # jaywalk: a walker far from the ego's immediate path steps out mid-block
        jay = mode[i] == walk and draws[n_inter, i] < jaywalk_p and abs(s[i] - ego_s) > 30
        for k in range(n_inter):
            jay = jay and abs(s[i] - inter_s[k]) > inter_half_m[k] + 10
        if jay:
            mode[i] = cross
            target_d[i] = walk_d_right if d[i] > 0 else walk_d_left
        # move
        if mode[i] == walk:
            s[i] += direction[i] * speed[i] * dt_s
            if s[i] < 3 or s[i] > road_length_m - 3:
                direction[i] *= -1
        step = min(max(target_d[i] - d[i], -speed[i] * dt_s), speed[i] * dt_s)
        if mode[i] == cross:
            d[i] += step
            if abs(target_d[i] - d[i]) < 1e-3:
                mode[i] = walk
            yaw_local[i] = np.sign(step + 1e-9) * np.pi / 2
        else:
            yaw_local[i] = 0.0 if direction[i] > 0 else np.pi


@numba.njit(cache=True)
def first_box_overlap(ax, ay, ac, as_, ahl, ahw, boxes, cos_yaw, sin_yaw, reach_m):
    """Index of the first box (rows [x, y, yaw, length, width]) within ``reach_m`` of the centre
    (ax, ay) that overlaps box A (centre, cos/sin of yaw, half length/width), or -1.

    The separating-axis test of ``collision.obb_overlap``, term for term; touching counts."""
    for k in range(boxes.shape[0]):
        dx = boxes[k, 0] - ax
        dy = boxes[k, 1] - ay
        if not np.hypot(dx, dy) < reach_m:
            continue
        if boxes_overlap(dx, dy, ac, as_, ahl, ahw, cos_yaw[k], sin_yaw[k], 0.5 * boxes[k, 3], 0.5 * boxes[k, 4]):
            return k
    return -1


@numba.njit(cache=True)
def box_corners_one(x, y, c, s, half_len, half_wid):
    """(4, 2) corners [m] of one oriented box: ``collision.box_corners`` term for term (front-left,
    rear-left, rear-right, front-right), from its centre, the cos and sin of its yaw (numpy's) and
    its half length and width [m]."""
    out = np.empty((4, 2))
    for k in range(4):
        along = (1.0 if k == 0 or k == 3 else -1.0) * half_len
        across = (1.0 if k < 2 else -1.0) * half_wid
        out[k, 0] = x + along * c - across * s
        out[k, 1] = y + along * s + across * c
    return out


@numba.njit(cache=True)
def boxes_overlap(dx, dy, ac, as_, ahl, ahw, bc, bs, bhl, bhw):
    """Whether oriented boxes A and B overlap (touching counts): the separating-axis test of
    ``collision.obb_overlap`` term for term. (dx, dy) is B's centre minus A's; c, s the cos and sin of
    each box's yaw, hl, hw its half length and half width."""
    for axis in range(4):
        if axis == 0:
            ux, uy = ac, as_
        elif axis == 1:
            ux, uy = -as_, ac
        elif axis == 2:
            ux, uy = bc, bs
        else:
            ux, uy = -bs, bc
        ra = ahl * abs(ux * ac + uy * as_) + ahw * abs(-ux * as_ + uy * ac)
        rb = bhl * abs(ux * bc + uy * bs) + bhw * abs(-ux * bs + uy * bc)
        if abs(dx * ux + dy * uy) > ra + rb:
            return False
    return True


@numba.njit(cache=True)
def boxes_triangles(unit_box, unit_normals, sun, ambient, centre, cos_yaw, sin_yaw, size, colour):
    """Vertices (B*12, 3, 3) float32 and Lambert-shaded colours (B*12, 3) uint8 of B boxes
    (``meshes.boxes_mesh``: the same arithmetic in the same order, so the same bits)."""
    b_n = centre.shape[0]
    t_n = unit_box.shape[0]
    verts = np.empty((b_n * t_n, 3, 3), np.float32)
    col = np.empty((b_n * t_n, 3), np.uint8)
    for b in range(b_n):
        c, s = cos_yaw[b], sin_yaw[b]
        for t in range(t_n):
            row = b * t_n + t
            for v in range(3):
                lx = unit_box[t, v, 0] * size[b, 0]
                ly = unit_box[t, v, 1] * size[b, 1]
                lz = unit_box[t, v, 2] * size[b, 2]
                verts[row, v, 0] = np.float32(lx * c - ly * s + centre[b, 0])
                verts[row, v, 1] = np.float32(lx * s + ly * c + centre[b, 1])
                verts[row, v, 2] = np.float32(lz + centre[b, 2])
            nx = unit_normals[t, 0] * c - unit_normals[t, 1] * s
            ny = unit_normals[t, 0] * s + unit_normals[t, 1] * c
            lambert = max(0.0, nx * sun[0] + ny * sun[1] + unit_normals[t, 2] * sun[2])
            shade = ambient + (1 - ambient) * lambert
            for ch in range(3):
                col[row, ch] = np.uint8(min(max(np.float64(np.float32(colour[b, ch])) * shade, 0.0), 255.0))
    return verts, col


@numba.njit(cache=True)
def gather_obstacles(veh_s, veh_d, veh_length, veh_width, veh_v, veh_dir, veh_road,
                     ego_s, ego_d, ego_half_len, ego_half_wid, ego_v_s, ego_cross_half_len, ego_cross_half_wid,
                     ped_s, ped_d, ped_half, on_road_lo, on_road_hi,
                     inter_main_s, inter_half_main, inter_side_s, inter_side_road):
    """Every road's obstacles in flat arrays: s, d, half length, half width, v_s [m, m/s], vehicle
    index (-1 for others) and road (``Traffic._all_obstacles`` documents the order).

    After all vehicles: the main road's ego (first) and pedestrians with ``on_road_lo < d <
    on_road_hi``; then per intersection, in the side road's frame (s along it, d = -(main s
    offset)), the pedestrians near its crossing, and last the ego while within 12 m of it
    (half sizes ``ego_cross_*``, standing still, so it blocks cross traffic).
    """
    n_veh, n_ped, n_inter = veh_s.shape[0], ped_s.shape[0], inter_main_s.shape[0]
    cap = n_veh + 1 + n_ped + n_inter * (n_ped + 1)
    o_s, o_d = np.empty(cap), np.empty(cap)
    o_hl, o_hw, o_v = np.empty(cap), np.empty(cap), np.empty(cap)
    o_vehicle, o_road = np.empty(cap, np.int64), np.empty(cap, np.int64)
    for i in range(n_veh):
        o_s[i], o_d[i] = veh_s[i], veh_d[i]
        o_hl[i], o_hw[i], o_v[i] = veh_length[i] / 2, veh_width[i] / 2, veh_v[i] * veh_dir[i]
        o_vehicle[i], o_road[i] = i, veh_road[i]
    m = n_veh
    o_s[m], o_d[m], o_hl[m], o_hw[m], o_v[m], o_vehicle[m], o_road[m] = ego_s, ego_d, ego_half_len, ego_half_wid, ego_v_s, -1, 0
    m += 1
    for p in range(n_ped):
        if ped_d[p] > on_road_lo and ped_d[p] < on_road_hi:
            o_s[m], o_d[m], o_hl[m], o_hw[m], o_v[m], o_vehicle[m], o_road[m] = ped_s[p], ped_d[p], ped_half, ped_half, 0.0, -1, 0
            m += 1
    for k in range(n_inter):
        r = inter_side_road[k]
        for p in range(n_ped):
            if abs(ped_s[p] - inter_main_s[k]) < inter_half_main[k] + 1.0:
                o_s[m], o_d[m] = inter_side_s[k] + ped_d[p], -(ped_s[p] - inter_main_s[k])
                o_hl[m], o_hw[m], o_v[m], o_vehicle[m], o_road[m] = ped_half, ped_half, 0.0, -1, r
                m += 1
        if abs(ego_s - inter_main_s[k]) < inter_half_main[k] + 12.0:
            o_s[m], o_d[m] = inter_side_s[k] + ego_d, -(ego_s - inter_main_s[k])
            o_hl[m], o_hw[m], o_v[m], o_vehicle[m], o_road[m] = ego_cross_half_len, ego_cross_half_wid, 0.0, -1, r
            m += 1
    return o_s[:m], o_d[:m], o_hl[:m], o_hw[:m], o_v[:m], o_vehicle[:m], o_road[:m]


@numba.njit(cache=True)
def idm_scalar(v, free, gap, v_lead, t_s, s0_m, a_m_s2, two_sqrt_ab, max_brake_m_s2):
    """``idm.idm_accel`` for one vehicle, term for term, given its free-road term ``free``
    (``idm.idm_free_term``) and ``two_sqrt_ab`` = 2 sqrt(a b)."""
    finite = np.isfinite(gap)
    dv = v - v_lead if finite else 0.0
    s_star = s0_m + max(0.0, v * t_s + v * dv / two_sqrt_ab)
    gap_safe = max(gap if gap > 0.0 else 1.0, 1e-6)
    interaction = (s_star / gap_safe) ** 2 if finite else 0.0
    acc = a_m_s2 * (1.0 - free - interaction)
    if not gap > 0.0:
        acc = -max_brake_m_s2
    return min(max(acc, -max_brake_m_s2), a_m_s2)


@numba.njit(cache=True)
def traffic_accel(idx, s, d, direction, length, width, road, v, free,
                  obs_s, obs_d, obs_half_len, obs_half_wid, obs_v_s, obs_vehicle, obs_road,
                  stop_road, stop_s, stop_dir, stop_state, red, yellow,
                  t_s, s0_m, a_m_s2, b_m_s2, two_sqrt_ab, max_brake_m_s2):
    """IDM acceleration of vehicles ``idx`` (``Traffic._idm_accel``): following the obstacle
    ahead, and braking for a stop line that demands it, whichever is lower."""
    gap, lead = leader_search(idx, d[idx], s, direction, length, width, road,
                              obs_s, obs_d, obs_half_len, obs_half_wid, obs_vehicle, obs_road)
    stop_gap = stop_line_gap(idx, s, direction, length, v, road, b_m_s2, stop_road, stop_s, stop_dir, stop_state,
                             red, yellow)
    acc = np.empty(idx.shape[0])
    for k in range(idx.shape[0]):
        i = idx[k]
        v_lead = max(obs_v_s[lead[k]] * direction[i], 0.0)
        a = idm_scalar(v[i], free[i], gap[k], v_lead, t_s, s0_m, a_m_s2, two_sqrt_ab, max_brake_m_s2)
        if np.isfinite(stop_gap[k]):
            a = min(a, idm_scalar(v[i], free[i], stop_gap[k], 0.0, t_s, s0_m, a_m_s2, two_sqrt_ab, max_brake_m_s2))
        acc[k] = a
    return acc


@numba.njit(cache=True)
def packed_centre_pose(road, s, offset, n, xy, heading, dheading, step_m):
    """Centre-line point x, y [m] and heading [rad] at ``s`` [m] on roads ``road`` of packed
    samples (``road.PackedRoads``): linear between samples, clamped to a road's ends; the
    arithmetic of ``PackedRoads.pose``'s numpy expressions, in their order."""
    k = s.shape[0]
    x = np.empty(k)
    y = np.empty(k)
    h = np.empty(k)
    for j in range(k):
        r = road[j]
        f = min(max(s[j] / step_m, 0.0), n[r] - 1.000001)
        i = int(f)
        t = f - i
        g = offset[r] + i
        x[j] = xy[g, 0] * (1 - t) + xy[g + 1, 0] * t
        y[j] = xy[g, 1] * (1 - t) + xy[g + 1, 1] * t
        h[j] = heading[g] + t * dheading[g]
    return x, y, h


@numba.njit(cache=True)
def packed_curvature(road, s, offset, n, curvature, step_m):
    """Curvature [1/m] at the sample nearest ``s`` [m] (halves to even, as ``np.round``) on roads
    ``road`` of packed samples, clamped to a road's ends (``road.PackedRoads.curvature_at``)."""
    out = np.empty(s.shape[0])
    for j in range(s.shape[0]):
        r = road[j]
        f = min(max(s[j] / step_m, 0.0), np.float64(n[r] - 1))
        out[j] = curvature[offset[r] + np.int64(np.rint(f))]
    return out


@numba.njit(cache=True)
def points_ahead_ego(s0, spacing_m, count, length_m, xy, heading, dheading, step_m, x, y, c, sn):
    """(count, 2) points of a centreline (``Road`` samples ``xy``, ``heading``, ``dheading``) at
    ``s0`` + ``spacing_m``, 2 ``spacing_m``, ... (at most ``length_m``), in the frame of a car at
    (x, y) with yaw cos ``c`` and sin ``sn`` (x forward, y left) [m]: ``Route.waypoints_ego``'s
    numpy arithmetic (``Road.pose`` with d = 0) term for term."""
    out = np.empty((count, 2))
    last = heading.shape[0] - 1.000001
    for k in range(count):
        s = min(s0 + spacing_m * (k + 1), length_m)
        f = min(max(s / step_m, 0.0), last)
        i = int(f)
        t = f - i
        h = heading[i] + t * dheading[i]
        px = (xy[i, 0] * (1 - t) + xy[i + 1, 0] * t) - 0.0 * np.sin(h)
        py = (xy[i, 1] * (1 - t) + xy[i + 1, 1] * t) + 0.0 * np.cos(h)
        dx, dy = px - x, py - y
        out[k, 0] = dx * c + dy * sn
        out[k, 1] = -dx * sn + dy * c
    return out

