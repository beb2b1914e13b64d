"""The navigation worlds' compiled and batched builds give exactly what their plain per-object
references (written out here) give, on a few towns and highways."""

import numpy as np
import pytest

from sim.collision import obb_overlap
from sim.lights import ALL_RED_S, GREEN, RED, YELLOW, YELLOW_S
from sim.config import ScenarioConfig
from sim.meshes import CHUNK_M, _quads, _segments, _strip, _strips, quad_rows, strip_row, strip_rows_tris
from sim.nav_scenario import generate_nav
from sim.roadgraph.traffic_kernels import walker_gaps
from sim.roadgraph.paths import cubic_bezier, cubic_beziers, offset, resample, resample_many
from sim.scenarios import generate
from sim.roadgraph.lanes import _CONFLICT_STEP_M, CONFLICT_M, SIZE_JITTER, STOP_TO_END_M, _conflicts
from sim.traffic import KIND_DIMS_M

CASES = [("townnav", 1), ("townnav", 7), ("highwaynav", 2)]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def scenario(request):
    kind, seed = request.param
    return generate_nav(ScenarioConfig(kind=kind), seed)


def _pairwise_conflicts(graph) -> list[list[int]]:
    """Connector conflicts tested pair by pair with ``obb_overlap`` (the definition in ``lanes``)."""
    out = [[] for _ in graph.connectors]
    body_m = np.max(KIND_DIMS_M[:, :2], axis=0) * SIZE_JITTER
    back = np.arange(_CONFLICT_STEP_M, STOP_TO_END_M + _CONFLICT_STEP_M, _CONFLICT_STEP_M)
    ahead = np.arange(_CONFLICT_STEP_M, body_m[0] / 2 + _CONFLICT_STEP_M, _CONFLICT_STEP_M)
    for j in graph.junctions:
        paths, boxes = [], []
        for c_idx in j.connectors:
            road = graph.roads[graph.connectors[c_idx].road]
            s = np.linspace(0.0, road.length_m, max(2, int(road.length_m / _CONFLICT_STEP_M) + 1))
            x, y, h = road.pose(s, np.full_like(s, road.lane_centre_d(0, 1)))
            paths.append(np.stack([x, y], 1))
            bx = np.concatenate([x[0] - back * np.cos(h[0]), x, x[-1] + ahead * np.cos(h[-1])])
            by = np.concatenate([y[0] - back * np.sin(h[0]), y, y[-1] + ahead * np.sin(h[-1])])
            bh = np.concatenate([np.full(back.size, h[0]), h, np.full(ahead.size, h[-1])])
            boxes.append(np.stack([bx, by, bh, np.full_like(bx, body_m[0]), np.full_like(bx, body_m[1])], 1))
        for a, ca in enumerate(j.connectors):
            for b in range(a + 1, len(j.connectors)):
                cb = j.connectors[b]
                if graph.connectors[ca].src == graph.connectors[cb].src:
                    continue
                gap = np.min(np.hypot(*(paths[a][:, None, :] - paths[b][None, :, :]).transpose(2, 0, 1)))
                if gap < CONFLICT_M or (gap < body_m[0] + CONFLICT_M
                                        and obb_overlap(boxes[a][:, None], boxes[b][None]).any()):
                    out[ca].append(cb)
                    out[cb].append(ca)
    return out


def test_compiled_conflicts_equal_the_pairwise_test(scenario):
    assert _conflicts(scenario.graph) == _pairwise_conflicts(scenario.graph)


def _box_touches_grid(paved, box, margin_m):
    """Whether a box grown by ``margin_m`` touches paving: its points every 0.5 m, looked up by ``on_paved``."""
    x, y, yaw, length, width = box
    u = np.arange(-length / 2 - margin_m, length / 2 + margin_m + 1e-9, 0.5)
    v = np.arange(-width / 2 - margin_m, width / 2 + margin_m + 1e-9, 0.5)
    uu, vv = np.meshgrid(u, v)
    c, s = np.cos(yaw), np.sin(yaw)
    return bool(paved.on_paved(x + uu * c - vv * s, y + uu * s + vv * c).any())


def test_compiled_box_touches_equals_the_point_grid(scenario):
    rng = np.random.default_rng(5)
    x0, y0, x1, y1 = scenario.graph.bounds()
    n = 400
    boxes = np.stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n), rng.uniform(-4, 4, n),
                      rng.uniform(0.2, 25, n), rng.uniform(0.2, 16, n)], 1).tolist()
    margins = rng.uniform(0, 3, n).tolist()
    got = [scenario.paved.box_touches(b, margin_m=m) for b, m in zip(boxes, margins)]
    want = [_box_touches_grid(scenario.paved, b, m) for b, m in zip(boxes, margins)]
    assert got == want and 0 < sum(want) < n


def _spans(road):
    """Strips as ``road_pieces`` asks for them (asphalt, sidewalks, a line, short and empty ones)."""
    lo, hi = road.asphalt_d
    segs = _segments(0.0, road.length_m, CHUNK_M)
    return ([(a, b, lo, hi) for a, b in segs] + [(a, b, hi, hi + 2.5) for a, b in segs]
            + [(a, b, -0.075, 0.075) for a, b in segs] + [(3.0, 3.0005, lo, hi), (0.0, road.length_m, -1.0, 1.0)])


def test_batched_strips_equal_one_strip_at_a_time(scenario):
    roads = scenario.graph.roads[:scenario.graph.n_streets:3] + generate(ScenarioConfig(kind="town"), 3).network.roads
    for road in roads:
        spans = _spans(road)
        got = _strips(road, np.array(spans))
        want = [_strip(road, *span) for span in spans]
        assert len(got) == len(want)
        assert all(g.dtype == w.dtype and np.array_equal(g, w) for g, w in zip(got, want))


def test_strip_rows_over_many_roads_equal_strips_and_quads_one_road_at_a_time(scenario):
    """Strips (curvature's step and a fixed one) and quads on every road of a town (streets and
    connectors), all in one ``strip_rows_tris`` call, equal ``_strip`` and the quads one by one."""
    graph, rng = scenario.graph, np.random.default_rng(14)
    rows, roads, want = [], [], []
    for r in rng.choice(len(graph.roads), min(60, len(graph.roads)), replace=False):
        road = graph.roads[r]
        for s0, s1, d0, d1 in _spans(road)[::2]:
            step = float(rng.choice([np.nan, 1.0, 2.5]))
            rows.append(strip_row(s0, s1, d0, d1, step))
            want.append(_strip(road, s0, s1, d0, d1, None if np.isnan(step) else step))
        starts = np.arange(0.0, road.length_m - 3.0, 9.0)
        q = quad_rows(starts, starts + 3.0, -0.2, 0.2)
        rows += list(map(tuple, q))
        want += [_quads(road, starts[k:k + 1], starts[k:k + 1] + 3.0, -0.2, 0.2) for k in range(len(starts))]
        roads += [int(r)] * (len(rows) - len(roads))
    tris, first = strip_rows_tris(graph.packed, np.array(roads), np.array(rows))
    assert len(first) == len(want) + 1
    assert all(np.array_equal(tris[first[k]:first[k + 1]], w) for k, w in enumerate(want))
    assert tris.dtype == np.float32 and len(tris) == sum(len(w) for w in want)


def test_batched_beziers_and_resampling_equal_one_curve_at_a_time():
    rng = np.random.default_rng(0)
    p0 = rng.uniform(-50, 50, (40, 2))
    p1 = p0 + rng.uniform(-40, 40, (40, 2))
    h0 = rng.uniform(-7, 7, 40)
    h1 = h0 + rng.choice([0.0, np.pi / 2, -np.pi / 2, 0.3, 1e-4], 40)  # straight, turns, nearly straight
    want = [cubic_bezier(tuple(a), float(b), tuple(c), float(d)) for a, b, c, d in zip(p0, h0, p1, h1)]
    got = cubic_beziers(p0, h0, p1, h1)
    assert all(np.array_equal(g, w) for g, w in zip(got, want))
    curves = want + [offset(*resample(w)[:2], 1.75) for w in want[:5]] + [np.array([[0, 0], [0, 0], [1, 0], [2, 1.0]])]
    for g, w in zip(resample_many(curves), [resample(c) for c in curves]):
        assert all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(g, w))


def _group_states_arrays(sig):
    """Both groups' ball and arrow states by whole-array masks (what the compiled loop replaces)."""
    t = np.mod(sig.time_s + sig.offset_s, sig.cycle_s)
    ball, arrow = np.full((len(t), 2), RED, np.int64), np.full((len(t), 2), RED, np.int64)
    protected, start = sig.arrow_s > 0, np.zeros(len(t))
    for g in range(2):
        a_end = start + sig.arrow_s
        ay_end = a_end + np.where(protected, YELLOW_S, 0.0)
        g_end = ay_end + sig.green_s[:, g]
        y_end = g_end + YELLOW_S
        arrow[(t >= start) & (t < a_end), g] = GREEN
        arrow[(t >= a_end) & (t < ay_end), g] = YELLOW
        ball[(t >= ay_end) & (t < g_end), g] = GREEN
        ball[(t >= g_end) & (t < y_end), g] = YELLOW
        arrow[~protected, g] = ball[~protected, g]
        start = y_end + ALL_RED_S
    return ball, arrow


def test_compiled_signal_states_equal_the_array_masks(scenario):
    sig = scenario.signals
    for k in range(0, 1600, 3):  # 80 s: whole cycles, every phase edge of every junction passed
        sig.time_s = k * 0.05
        got, want = sig._compute_group_states(), _group_states_arrays(sig)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_compiled_walker_gaps_equal_the_matrix_expressions():
    rng = np.random.default_rng(0)
    n, w = 300, 25
    x, y, yaw = rng.uniform(0, 60, n), rng.uniform(0, 60, n), rng.uniform(-4, 4, n)
    length, width, parked = rng.uniform(1.5, 12, n), rng.uniform(0.6, 2.6, n), rng.random(n) < 0.2
    wx, wy = rng.uniform(0, 60, w), rng.uniform(0, 60, w)
    dx, dy = wx[None] - x[:, None], wy[None] - y[:, None]
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    along, across = dx * c + dy * s, -dx * s + dy * c
    ahead = (along > 0) & (along < 30.0) & (np.abs(across) < width[:, None] / 2 + 0.8) & ~parked[:, None]
    want = np.where(ahead, along - length[:, None] / 2 - 0.8, np.inf).min(axis=1)
    got = walker_gaps(x, y, np.cos(yaw), np.sin(yaw), length, width, parked, wx, wy, 0.8, 30.0)
    assert np.array_equal(got, want) and 0 < np.isfinite(want).sum() < n


def test_compiled_street_distances_equal_the_numpy_ones(scenario):
    """``street_distances`` (one compiled pass, each pair once) equals the all-points numpy expression."""
    from sim.roadgraph import ground as G
    graph = scenario.graph
    pts, owner = [], []
    for k, road in enumerate(graph.roads[:graph.n_streets]):
        s = np.linspace(0.0, road.length_m, max(2, int(np.ceil(road.length_m / G.SPACING_M)) + 1))
        x, y, _ = road.pose(s, np.zeros_like(s))
        pts.append(np.stack([x, y], 1))
        owner.append(np.full(len(s), k))
    p, owner = np.concatenate(pts), np.concatenate(owner)
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    want = np.empty((graph.n_streets, graph.n_streets))
    for k, block in enumerate(pts):
        d = np.sqrt(((block[:, None, :] - p[None]) ** 2).sum(-1)).min(axis=0)
        want[k] = np.minimum.reduceat(d, starts)
    assert np.array_equal(G.street_distances(graph), want)


def test_compiled_cell_reach_equals_the_numpy_one(scenario):
    """``CellChunks``' cell radii and occupancy (one compiled pass) equal the norm / ``np.maximum.at`` expression."""
    from sim.appearance import Appearance
    from sim.config import CameraConfig, RandomizationConfig
    from sim.meshes import LAYER_STRIDE
    from sim.roadgraph.view_parts import graph_static_meshes
    look = Appearance.sample(RandomizationConfig(), "townnav", 0)
    static = graph_static_meshes(scenario.graph, scenario.signals, look.palette, CameraConfig(), 1000, 2000,
                                 scenario.props)
    g, p, ch = static.ground, static.props, static.chunks
    cells = np.concatenate([g.key % LAYER_STRIDE, p.key]).astype(np.int64)
    verts = np.concatenate([g.verts, p.verts])[:, :, :2].astype(np.float64)
    reach = np.linalg.norm(verts - ch.grid.centres()[cells][:, None, :], axis=2).max(axis=1, initial=0.0)
    radius = np.zeros(ch.grid.n)
    np.maximum.at(radius, cells, reach)
    occupied = np.zeros(ch.grid.n, bool)
    occupied[cells] = True
    assert np.array_equal(ch.radius_m, radius) and np.array_equal(ch.occupied, occupied) and occupied.any()
