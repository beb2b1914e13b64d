"""A graph town's camera frames agree with its geometry: paint and paving only where the graph is
paved, junction boxes drivable, the ego lane's lines coded as ``ego_line_codes`` says, the cell
index never dropping a visible triangle, and the same seed giving the same bytes."""

import numpy as np
import pytest

from sim.camera import SKY_DEPTH_M, Camera
from sim.config import CameraConfig
from sim.meshes import CROSSWALK, LINE_BASE, ROAD, STOP_LINE, Mesh, Palette
from sim.road import LINE_WIDTH_M
from sim.roadgraph.generator import TownSpec, generate_graph
from sim.roadgraph.ground import (GRAPH_LINE_BASE, NO_LINE_CODE, ego_line_codes, min_group_separation_m,
                                  street_line_groups, street_line_ranges)
from sim.roadgraph.planner import random_route
from sim.roadgraph.signals import JunctionSignals
from sim.roadgraph.view_parts import graph_static_meshes

PROP0, STOP0 = 100, 5000
SKY = np.tile(np.array([[150, 190, 230]], np.uint8), (CameraConfig().height_px, 1))
GRASS = np.array([90, 130, 70], np.uint8)


class Town:
    def __init__(self, seed: int, grid: int = 5):
        self.graph = generate_graph(TownSpec(grid), np.random.default_rng(seed))
        self.signals = JunctionSignals(self.graph, np.random.default_rng(seed + 1))
        self.cfg = CameraConfig()
        self.static = graph_static_meshes(self.graph, self.signals, Palette(), self.cfg, PROP0, STOP0)
        self.camera = Camera(self.cfg)
        self.route = random_route(self.graph, np.random.default_rng(seed + 2), 700.0)

    def render(self, route_s: float, chunks=None):
        x, y, h = self.route.path.pose(route_s, 0.0)
        rot, pos = self.camera.pose(float(x), float(y), float(h))
        return self.camera.render(self.static.ground, self.static.props, Mesh.empty(), 0.0, rot, pos,
                                  STOP0 + len(self.signals.stop_signs), SKY, GRASS,
                                  chunks=self.static.chunks if chunks is None else chunks)

    def ground_points(self, frame, mask: np.ndarray) -> np.ndarray:
        """World (x, y) of the ground seen at the pixels of ``mask``, from the depth buffer [m]."""
        i, j = np.nonzero(mask)
        cam = self.camera
        z = frame.depth_m[i, j].astype(np.float64)
        pc = np.stack([(j + 0.5 - cam.cx) / cam.fx * z, (i + 0.5 - cam.cy) / cam.fy * z, z], 1)
        return (pc @ frame.rotation + frame.position_m)[:, :2]


@pytest.fixture(scope="module")
def town():
    return Town(4)


def _poses(town, step_m=25.0):
    return np.arange(5.0, town.route.length_m - 5.0, step_m)


def _in_polygon(xy: np.ndarray, poly: np.ndarray, margin_m: float) -> np.ndarray:
    """Points inside a counter-clockwise convex polygon grown (margin > 0) or shrunk (< 0) by margin_m."""
    inside = np.ones(len(xy), bool)
    for a, b in zip(poly, np.roll(poly, -1, axis=0)):
        edge = b - a
        n = np.array([edge[1], -edge[0]]) / np.linalg.norm(edge)  # outward normal
        inside &= (xy - a) @ n <= margin_m
    return inside


def _paved(town, xy: np.ndarray, tol_m: float = 0.05) -> np.ndarray:
    g = town.graph
    out = np.zeros(len(xy), bool)
    for road in g.roads[:g.n_streets]:
        lo, hi = road.asphalt_d
        near = np.flatnonzero(np.min(np.hypot(*(xy[:, None, :] - road.xy[None, ::20]).transpose(2, 0, 1)), axis=1)
                              < road.length_m / 2 + 30)
        if len(near) == 0:
            continue
        s, d = road.project(xy[near, 0], xy[near, 1])
        out[near] |= (d >= lo - tol_m) & (d <= hi + tol_m) & (s > -tol_m) & (s < road.length_m + tol_m)
    for j in g.junctions:
        out |= _in_polygon(xy, j.polygon, tol_m)
    return out


def _drivable(label: np.ndarray) -> np.ndarray:
    return (label == ROAD) | (label == CROSSWALK) | (label == STOP_LINE) | (label >= LINE_BASE)


def test_paint_and_paving_lie_on_the_graphs_paved_area(town):
    seen = 0
    for s in _poses(town, 40.0):
        f = town.render(s)
        mask = _drivable(f.label) & (f.instance == 0) & (f.depth_m < 80.0)
        xy = town.ground_points(f, mask)
        assert _paved(town, xy).all(), f"route s={s:.0f} m: {(~_paved(town, xy)).sum()} paved pixels off the graph"
        seen += len(xy)
    assert seen > 10000


def test_visible_junction_interiors_are_drivable(town):
    seen = 0
    for s in _poses(town, 10.0):
        f = town.render(s)
        ground = (f.instance == 0) & (f.depth_m < 60.0)
        xy = town.ground_points(f, ground)
        lab = f.label[ground]
        for j in town.graph.junctions:
            inside = _in_polygon(xy, j.polygon, -0.1)
            assert _drivable(lab[inside]).all()
            seen += int(inside.sum())
    assert seen > 2000  # the route crosses junctions


def test_ego_lane_lines_carry_the_ego_codes_at_the_lines_offsets(town):
    g = town.graph
    checked = 0
    for leg in town.route.legs:
        if leg.connector:
            assert ego_line_codes(g, leg.lane) == (NO_LINE_CODE, NO_LINE_CODE)
            continue
        road = g.roads[leg.lane.road]
        w = road.lane_width_m
        left_d = -leg.lane.direction * leg.lane.lane * w
        right_d = -leg.lane.direction * (leg.lane.lane + 1) * w
        if not street_line_ranges(road):
            continue
        (a, b), = street_line_ranges(road)
        for frac in (0.3, 0.6):
            s_street = leg.s_from + frac * (leg.s_to - leg.s_from)
            if not a + 10 < s_street < b - 30:
                continue
            f = town.render(leg.route_s0 + frac * leg.length_m)
            for code, d_line in zip(ego_line_codes(g, leg.lane), (left_d, right_d)):
                mask = (f.label == code) & (f.instance == 0)
                xy = town.ground_points(f, mask)
                assert len(xy) > 10, f"no pixels of line code {code}"
                s, d = road.project(xy[:, 0], xy[:, 1])
                line = next(ln for ln in road.lane_lines() if abs(ln.d_m - d_line) < 1e-9)
                # paint reaches half a line width from the offset; a double line's strips 0.12 m either side
                reach = 0.18 if line.style == "double_solid" else LINE_WIDTH_M / 2
                assert np.abs(d - d_line).max() < reach + 0.03, (code, d_line)
                assert ((s > a - 0.03) & (s < b + 0.03)).all()  # and between the stop lines
                checked += 1
    assert checked >= 4


def test_line_groups_separate_streets():
    g = generate_graph(TownSpec(7), np.random.default_rng(3))
    groups = street_line_groups(g)
    for j in g.junctions:
        arms = [groups[a.street] for a in j.arms]
        assert len(set(arms)) == len(arms)
    # a far street sharing the ego street's group stays beyond what the camera draws
    assert min_group_separation_m(g) > CameraConfig().max_range_m + 100.0
    for j in g.junctions:  # no two lanes of the streets at a junction share a line code pair
        lanes = [lane for lane in g.all_street_lanes() if lane.road in {a.street for a in j.arms}]
        codes = [ego_line_codes(g, lane) for lane in lanes]
        assert len(set(codes)) == len(codes)
        assert all(GRAPH_LINE_BASE <= c < NO_LINE_CODE for pair in codes for c in pair)


class _Everything:
    """A chunk index that draws every static triangle."""

    def __init__(self, static):
        self.n = (len(static.ground.inst), len(static.props.inst))

    def key(self, ego_s, pos, fwd):
        return "all"

    def rows(self, key):
        return np.arange(self.n[0]), np.arange(self.n[1])


def test_cells_drop_nothing_within_range(town):
    everything = _Everything(town.static)
    cam = town.camera
    j, i = np.meshgrid(np.arange(cam.width) + 0.5, np.arange(cam.height) + 0.5)
    ray_len = np.sqrt(((j - cam.cx) / cam.fx) ** 2 + ((i - cam.cy) / cam.fy) ** 2 + 1.0)
    for s in _poses(town, 35.0):
        f = town.render(s)
        ref = town.render(s, chunks=everything)
        # like the main road's chunks, cells stop at the camera's range: compare what lies within it
        near = ref.depth_m * ray_len < town.cfg.max_range_m
        assert near.mean() > 0.3
        for a in ("rgb", "depth_m", "instance"):
            assert np.array_equal(getattr(f, a)[near], getattr(ref, a)[near]), (s, a)
        # under an object the label buffer keeps the ground behind it, which may lie beyond the range
        ground = near & (ref.instance == 0)
        assert np.array_equal(f.label[ground], ref.label[ground]), s
    # and the cells do leave most of the town out
    rows = town.static.chunks.rows(town.static.chunks.key(0.0, np.zeros(3), np.array([1.0, 0, 0])))
    assert len(rows[0]) < 0.5 * len(town.static.ground.inst)


def test_stop_signs_are_drawn_with_their_ids(town):
    ids = np.unique(town.static.props.inst)
    n = len(town.signals.stop_signs)
    assert n > 0 and set(range(STOP0, STOP0 + n)) <= set(ids.tolist())
    assert town.static.n_static_props == len(town.signals.heads) + n
    assert ids.min() == PROP0


def test_same_seed_same_bytes():
    a, b = Town(9), Town(9)
    for m in ("ground", "props"):
        for field in ("verts", "colour", "inst", "label", "key"):
            assert np.array_equal(getattr(getattr(a.static, m), field), getattr(getattr(b.static, m), field))
    for s in (20.0, 150.0, 400.0):
        fa, fb = a.render(s), b.render(s)
        for attr in ("rgb", "depth_m", "instance", "label"):
            assert getattr(fa, attr).tobytes() == getattr(fb, attr).tobytes()
    assert (fa.depth_m < SKY_DEPTH_M).any()
