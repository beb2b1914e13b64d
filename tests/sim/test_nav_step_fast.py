"""The navigation worlds' per-step shortcuts (compiled ego corners, paved test, route waypoints,
the route truth's incremental look-ups) give exactly what the numpy expressions they replaced
(written out here) give."""

import gymnasium as gym
import numpy as np
import pytest

import sim  # noqa: F401  (registers the environments)
from sim.collision import box_corners
from sim.kernels import box_corners_one


@pytest.fixture(scope="module", params=["drivestack/TownNav-v0", "drivestack/HighwayNav-v0"],
                ids=lambda e: e.split("/")[1])
def world(request):
    env = gym.make(request.param, render_camera=False).unwrapped
    env.reset(seed=4)
    return env.world


def test_compiled_corners_equal_box_corners():
    rng = np.random.default_rng(1)
    for _ in range(300):
        x, y, yaw = rng.uniform(-500, 500), rng.uniform(-500, 500), rng.uniform(-7, 7)
        length, width = rng.uniform(0.1, 20), rng.uniform(0.1, 5)
        got = box_corners_one(x, y, float(np.cos(yaw)), float(np.sin(yaw)), 0.5 * length, 0.5 * width)
        assert np.array_equal(got, box_corners(np.array([x, y, yaw, length, width])))


def test_compiled_all_paved_equals_on_paved(world):
    paved = world.scenario.paved
    rng = np.random.default_rng(2)
    x0, y0, x1, y1 = world.graph.bounds()
    hits = 0
    for _ in range(2000):  # four corners of a car somewhere in (and around) the map, a few on the edges
        cx, cy = rng.uniform(x0 - 30, x1 + 30), rng.uniform(y0 - 30, y1 + 30)
        x, y = cx + rng.uniform(-3, 3, 4), cy + rng.uniform(-3, 3, 4)
        want = bool(paved.on_paved(x, y).all())
        assert paved.all_paved(x, y) == want
        hits += want
    path = world.route.path.xy  # along the route: paved
    assert paved.all_paved(np.ascontiguousarray(path[::50, 0]), np.ascontiguousarray(path[::50, 1]))
    assert 0 < hits < 2000


def _waypoints_numpy(route, route_s, x_m, y_m, yaw_rad, spacing_m=5.0, count=8):
    s = np.minimum(route_s + spacing_m * np.arange(1, count + 1), route.length_m)
    px, py, _ = route.path.pose(s, np.zeros_like(s))
    dx, dy = px - x_m, py - y_m
    c, sn = np.cos(yaw_rad), np.sin(yaw_rad)
    return np.stack([dx * c + dy * sn, -dx * sn + dy * c], 1)


def test_compiled_waypoints_equal_the_numpy_pose(world):
    route, rng = world.route, np.random.default_rng(3)
    for s in np.concatenate([rng.uniform(-5, route.length_m + 5, 300), [0.0, route.length_m, route.length_m - 12.5]]):
        x, y = rng.uniform(-300, 300, 2)
        yaw = rng.uniform(-4, 4)
        for spacing, count in ((5.0, 8), (2.5, 3)):
            got = route.waypoints_ego(float(s), float(x), float(y), float(yaw), spacing, count)
            want = _waypoints_numpy(route, float(s), float(x), float(y), float(yaw), spacing, count)
            assert np.array_equal(got, want)


def test_curvature_ahead_equals_the_array_lookup(world):
    path, rng = world.route.path, np.random.default_rng(6)
    for s in np.concatenate([rng.uniform(-40, path.length_m + 40, 500), np.arange(0, 40, 0.25)]):
        world.ego_s = float(s)
        want = path.curvature_at(world.ego_s + np.asarray((10.0, 20.0, 30.0)))
        assert world.curvature_ahead() == tuple(want.tolist())


def test_collision_with_kept_static_trig_equals_one_pass(world):
    """Moving the ego onto vehicles, pedestrians and static boxes (and near misses): the two-pass
    test finds the same first box as the one pass over every box."""
    from dataclasses import replace

    from sim.world import StepEvents, first_collision
    rng = np.random.default_rng(7)
    targets = np.concatenate([world.traffic.boxes(), world.peds.boxes(), world.static_boxes])
    kinds = set()
    for k in rng.integers(0, len(targets), 400):
        x, y = targets[k, :2] + rng.uniform(-4, 4, 2)
        ego = replace(world.ego, x_m=float(x), y_m=float(y), yaw_rad=float(rng.uniform(-4, 4)))
        got, want = StepEvents(), StepEvents()
        first_collision(ego, world.traffic, world.peds, world.static_boxes, world.ids, world._static_ids.__getitem__,
                        got, static_cos_sin=world._static_cos_sin)
        first_collision(ego, world.traffic, world.peds, world.static_boxes, world.ids, world._static_ids.__getitem__,
                        want)
        assert (got.collision, got.collision_id) == (want.collision, want.collision_id)
        kinds.add(want.collision)
    assert {"vehicle", "static", None} <= kinds


def test_project_point_equals_project(world):
    rng = np.random.default_rng(8)
    for road in (world.route.path, *world.graph.roads[:5]):
        for _ in range(200):
            s0 = rng.uniform(-10, road.length_m + 10)
            x, y, _ = road.pose(np.array([s0]), rng.uniform(-8, 8, 1))
            x, y = float(x[0]) + rng.uniform(-1, 1), float(y[0])
            hint = None if rng.random() < 0.2 else float(s0 + rng.uniform(-20, 20))
            s, d = road.project(x, y, hint_s=hint)
            assert road.project_point(x, y, hint_s=hint) == (float(s), float(d))


def _walkers_accel_all(tr, walkers_xy):
    """``GraphTraffic._walkers_accel`` as it was: IDM over every vehicle, inf where no walker is ahead."""
    from sim.idm import idm_accel
    from sim.roadgraph import traffic as T
    from sim.roadgraph import traffic_kernels as K
    x, y, yaw = tr.poses()
    gap = K.walker_gaps(x, y, np.cos(yaw), np.sin(yaw), np.ascontiguousarray(tr.dims[:, 0]),
                        np.ascontiguousarray(tr.dims[:, 1]), tr.parked, np.ascontiguousarray(walkers_xy[:, 0]),
                        np.ascontiguousarray(walkers_xy[:, 1]), T.WALKER_CLEARANCE_M, 30.0)
    v_des = np.minimum(tr._lane_limit[np.maximum(tr.lane, 0)] * tr.speed_factor, tr.max_speed)
    return np.where(np.isfinite(gap), idm_accel(tr.v, v_des, np.maximum(gap, 0.1), 0.0, tr.idm), np.inf)


def test_walker_braking_for_the_few_equals_braking_for_all(world):
    tr, rng = world.traffic, np.random.default_rng(9)
    x, y, yaw = tr.poses()
    finite = 0
    for _ in range(60):  # walkers a few metres ahead of random vehicles, and far ones
        k = rng.integers(0, tr.n, rng.integers(1, 6))
        ahead = rng.uniform(0, 25, k.size)
        walkers = np.stack([x[k] + ahead * np.cos(yaw[k]) + rng.uniform(-1.5, 1.5, k.size),
                            y[k] + ahead * np.sin(yaw[k]) + rng.uniform(-1.5, 1.5, k.size)], 1)
        got, want = tr._walkers_accel(walkers), _walkers_accel_all(tr, walkers)
        assert np.array_equal(got, want)
        finite += np.isfinite(want).sum()
    assert finite > 0


def test_idm_free_term_without_broadcast_equals_broadcast():
    from sim.idm import _MAX_SPEED_RATIO, IDMParams, idm_free_term
    rng, p = np.random.default_rng(10), IDMParams()
    v = rng.uniform(-1, 40, 500)
    v0 = np.where(rng.random(500) < 0.1, 0.0, rng.uniform(0, 30, 500))
    vp, v0b = np.broadcast_arrays(np.maximum(v, 0.0), v0)  # the reference: broadcast first, as before
    ratio = np.where(vp > 0.0, _MAX_SPEED_RATIO, 1.0)
    np.divide(vp, v0b, out=ratio, where=v0b > 0.0)
    want = np.minimum(ratio, _MAX_SPEED_RATIO) ** p.delta
    assert np.array_equal(idm_free_term(v, v0, p), want)
    assert np.array_equal(idm_free_term(v, 12.0, p), idm_free_term(v, np.full(500, 12.0), p))


def test_half_lengths_follow_the_sizes():
    from common.vocab import EGO_LENGTH_M
    env = gym.make("drivestack/TownNav-v0", render_camera=False).unwrapped
    env.reset(seed=5)
    tr = env.world.traffic
    assert np.array_equal(tr._half_lengths, np.append(tr.dims[:, 0] / 2, EGO_LENGTH_M / 2))
    t = tr.table
    g = next(g for g in range(len(t.refs)) if not t.is_connector[g] and t.exit_start[g + 1] > t.exit_start[g])
    tr.add_vehicle(t.refs[g], 5.0, 3.0, int(t.exit_conn[t.exit_start[g]]), kind=2)
    assert len(tr._half_lengths) == tr.n + 1
    assert np.array_equal(tr._half_lengths, np.append(tr.dims[:, 0] / 2, EGO_LENGTH_M / 2))


def _look_for_gaps_numpy(pd, idx, vehicles, ego_xy):
    """``GraphPedestrians._look_for_gaps`` as it was (numpy masks and ``_no_vehicle_near``)."""
    from sim.roadgraph import pedestrians as P
    cfg = pd.config
    street = pd.street[idx]
    lo, hi = pd.lo_m[street], pd.hi_m[street]
    x, y, _ = pd.graph.packed.pose(street, pd.s[idx], (lo + hi) / 2)
    jay, out = pd.jaywalking[idx], pd.stepping_out[idx]
    ego_clear = np.where(out, cfg.step_out_ego_clear_m, cfg.ego_clear_m)
    clear = ~jay | (np.hypot(ego_xy[0] - x, ego_xy[1] - y) >= ego_clear)
    if len(vehicles):
        clear &= P._no_vehicle_near(x, y, (hi - lo) / 2 + cfg.gap_margin_m,
                                    np.where(out, cfg.step_out_gap_s, cfg.gap_s), np.ascontiguousarray(vehicles[:, 0]),
                                    np.ascontiguousarray(vehicles[:, 1]), np.ascontiguousarray(vehicles[:, 2]))
    give_up = jay & (pd.wait_s[idx] > cfg.give_up_s)
    pd.phase[idx[clear & ~give_up]] = P.CROSSING
    quit_ = idx[give_up]
    pd.jaywalking[quit_] = pd.stepping_out[quit_] = False
    pd.phase[quit_] = P.ON_SIDEWALK


def _pedestrians_copy(pd):
    from sim.roadgraph import pedestrians as P
    out = object.__new__(P.GraphPedestrians)
    out.__dict__.update({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in pd.__dict__.items()})
    return out


def test_gap_decisions_and_carriageway_equal_the_masks():
    from sim.roadgraph import pedestrians as P
    env = gym.make("drivestack/TownNav-v0", render_camera=False).unwrapped
    env.reset(seed=6)
    pd, rng = env.world.peds, np.random.default_rng(11)
    crossing = 0
    for trial in range(40):
        a, b = _pedestrians_copy(pd), _pedestrians_copy(pd)
        n = pd.n
        for q in (a, b):  # the same random waiting states in both
            r = np.random.default_rng(trial)
            q.phase[:] = r.choice([P.ON_SIDEWALK, P.WAIT_GAP, P.CROSSING], n)
            q.jaywalking[:] = r.random(n) < 0.5
            q.stepping_out[:] = q.jaywalking & (r.random(n) < 0.3)
            q.wait_s[:] = r.uniform(0, 30, n)
            q.d[:] = q.d + r.uniform(-6, 6, n)
            q._version += 1
        idx = np.flatnonzero(a.phase == P.WAIT_GAP)
        x, y, _ = pd.poses()
        k = rng.integers(0, n, 8)
        vehicles = np.stack([x[k] + rng.uniform(-40, 40, 8), y[k] + rng.uniform(-40, 40, 8), rng.uniform(0, 15, 8)], 1)
        if trial % 5 == 0:
            vehicles = vehicles[:0]
        ego = (float(x[k[0]] + rng.uniform(-40, 40)), float(y[k[0]] + rng.uniform(-40, 40)))
        a._look_for_gaps(idx, vehicles, ego)
        _look_for_gaps_numpy(b, idx, vehicles, ego)
        for name in ("phase", "jaywalking", "stepping_out"):
            assert np.array_equal(getattr(a, name), getattr(b, name))
        crossing += int((a.phase[idx] == P.CROSSING).sum())
        half = P.SIZE_M / 2
        lo, hi = a.lo_m[a.street], a.hi_m[a.street]
        want = np.flatnonzero((a.phase == P.CROSSING) & (a.d > lo - half) & (a.d < hi + half))
        a._version += 1
        got, gx, gy = a.on_carriageway()
        assert np.array_equal(got, want) and np.array_equal(gx, a.poses()[0][want])
    assert crossing > 0


def test_go_on_red_and_red_left_equal_the_masks():
    from sim.lights import ALL_RED_S, RED, YELLOW_S
    from sim.roadgraph import pedestrians as P
    env = gym.make("drivestack/TownNav-v0", render_camera=False).unwrapped
    env.reset(seed=7)
    pd, sig, rng = env.world.peds, env.world.lights, np.random.default_rng(12)
    n_j, went = len(sig.cycle_s), 0
    for _ in range(200):
        sig.time_s = float(rng.uniform(0, 500))
        t = np.mod(sig.time_s + sig.offset_s, sig.cycle_s)  # red_left_s as it was
        second = sig.arrow_s + np.where(sig.arrow_s > 0, YELLOW_S, 0.0) + sig.green_s[:, 0] + YELLOW_S + ALL_RED_S
        red_left = np.mod(np.stack([np.zeros_like(t), second], 1) - t[:, None], sig.cycle_s[:, None])
        assert np.array_equal(sig.red_left_s(), red_left)
        at = np.sort(rng.choice(pd.n, rng.integers(1, pd.n), replace=False))
        pd.wait_junction[at] = rng.integers(0, n_j, at.size)
        pd.wait_group[at] = rng.integers(0, 2, at.size)
        pd.target_d[at] = pd.d[at] + rng.uniform(-15, 15, at.size)
        ball, arrow = sig.group_states()
        j, g = pd.wait_junction[at], pd.wait_group[at]
        need = np.abs(pd.target_d[at] - pd.d[at]) / pd.speed[at] + pd.config.signal_margin_s
        want = at[(ball[j, g] == RED) & (arrow[j, g] == RED) & (red_left[j, g] >= need)]
        got = P._go_on_red(at, pd.wait_junction, pd.wait_group, pd.target_d, pd.d, pd.speed, ball, arrow, red_left,
                           pd.config.signal_margin_s, RED)
        assert np.array_equal(got, want)
        went += want.size
    assert went > 0


@pytest.mark.parametrize("kind,seed", [("highwaynav", 1), ("highwaynav", 3), ("townnav", 2)])
def test_polygon_by_polygon_packing_equals_packing_the_whole_bitmap(kind, seed):
    """The paved bitmap filled polygon by polygon in images of their own bounds is the whole bitmap
    filled and packed."""
    import cv2

    from sim import paved as PV
    from sim.config import ScenarioConfig
    from sim.nav_scenario import generate_nav
    sc = generate_nav(ScenarioConfig(kind=kind), seed)
    graph = sc.graph
    bx0, by0, bx1, by1 = graph.bounds()  # PavedMap.build's drawing, then np.packbits of all of it
    x0, y0 = bx0 - PV.BORDER_M, by0 - PV.BORDER_M
    cols = int(np.ceil((bx1 + PV.BORDER_M - x0) / PV.RESOLUTION_M))
    rows = int(np.ceil((by1 + PV.BORDER_M - y0) / PV.RESOLUTION_M))
    img = np.zeros((rows, cols), np.uint8)
    polys = []
    for road in graph.roads[:graph.n_streets]:
        s = np.concatenate([np.arange(road.n)[::PV.EDGE_STEP], [road.n - 1]]) * 0.5
        lo, hi = road.asphalt_d
        xr, yr, _ = road.pose(s, np.full_like(s, lo))
        xl, yl, _ = road.pose(s, np.full_like(s, hi))
        polys.append(np.concatenate([np.stack([xr, yr], 1), np.stack([xl, yl], 1)[::-1]]))
    polys += [j.polygon for j in graph.junctions]
    for p in polys:
        cv2.fillPoly(img, [np.round((p - (x0, y0)) / PV.RESOLUTION_M * 4).astype(np.int32)], 1, lineType=cv2.LINE_8,
                     shift=2)
    want = np.packbits(img, axis=1)
    assert sc.paved.bits.shape == want.shape and np.array_equal(sc.paved.bits, want)
    assert (sc.paved.cols, sc.paved.rows) == (cols, rows) and want.any()


@pytest.mark.parametrize("band_min_px,band_rows", [(1 << 20, 128), (0, 7), (2000, 16)],
                         ids=["default", "all-banded", "some-banded"])
def test_fill_packed_equals_a_fill_of_the_whole_image(monkeypatch, band_min_px, band_rows):
    """Random rings (concave, self-crossing, small and long, some reaching past the image's edges or
    wholly outside it) filled one by one into the packed bitmap, in one image or band by band, equal
    ``cv2.fillPoly`` of the whole image, packed."""
    import cv2

    from sim import paved
    from sim.paved import PavedMap, _fill_packed, empty_tiles
    monkeypatch.setattr(paved, "FILL_BAND_MIN_PX", band_min_px)
    monkeypatch.setattr(paved, "FILL_BAND_ROWS", band_rows)
    rng = np.random.default_rng(13)
    rows, cols = 301, 1237  # several tiles each way
    img = np.zeros((rows, cols), np.uint8)
    tiles = empty_tiles(cols, rows)
    for _ in range(300):
        n = int(rng.integers(3, 40))
        centre = rng.uniform(-60, [cols + 60, rows + 60])
        ring = centre + rng.uniform(-1, 1, (n, 2)) * rng.uniform(0.2, 150, 2)
        poly = np.round(ring * 4).astype(np.int32)
        cv2.fillPoly(img, [poly], 1, lineType=cv2.LINE_8, shift=2)
        _fill_packed(tiles, poly, cols, rows)
        assert np.array_equal(PavedMap(tiles, 0.0, 0.0, cols, rows).bits, np.packbits(img, axis=1))
    assert img.any() and not img.all()
