"""Regenerate docs/img/townnav_map.png: a generated navigation town from above with a planned
route, beside camera frames along the route (a left turn, a right turn, a stop line) with labels.

Usage: python docs/town_map.py [--grid 7] [--seed 3] [--route-length 1500] [--out docs/img/townnav_map.png]

The frames come from ``sim.camera.Camera`` over ``sim.roadgraph.view_parts.graph_static_meshes``
(signal heads drawn in their current states, no traffic); the labels are the drivable area and
the lane lines, the ego lane's own lines from ``sim.roadgraph.ground.ego_line_codes``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing it

from common.vocab import LANE_EGO_LEFT, LANE_EGO_RIGHT, LANE_OTHER  # noqa: E402
from sim.appearance import Appearance  # noqa: E402
from sim.camera import SKY_DEPTH_M, Camera  # noqa: E402
from sim.config import CameraConfig, RandomizationConfig  # noqa: E402
from sim.label_overlay import draw_labels  # noqa: E402
from sim.labels import GroundTruth  # noqa: E402
from sim.meshes import CROSSWALK, LINE_BASE, OTHER_LINE, ROAD, STOP_LINE, boxes_mesh_of, light_head_boxes  # noqa: E402
from sim.render_kernels import dense_label_pass  # noqa: E402
from sim.roadgraph.generator import TownSpec, generate_graph  # noqa: E402
from sim.roadgraph.graph import CROSSWALK_M, STOP_LINE_SETBACK_M  # noqa: E402
from sim.roadgraph.ground import ego_line_codes  # noqa: E402
from sim.roadgraph.planner import random_route  # noqa: E402
from sim.roadgraph.signals import JunctionSignals  # noqa: E402
from sim.roadgraph.topdown import draw_map  # noqa: E402
from sim.roadgraph.view_parts import graph_static_meshes  # noqa: E402

OUT = Path(__file__).parent / "img" / "townnav_map.png"
SCALE = 2  # frame tiles are the 320x160 camera image, this many times larger


class TownCamera:
    """A graph town's static meshes and light heads, rendered from poses on a route."""

    def __init__(self, graph, signals: JunctionSignals, seed: int):
        self.graph, self.signals = graph, signals
        self.camera = Camera(CameraConfig())
        self.look = Appearance.sample(RandomizationConfig(enabled=False), "town", seed)
        self.light0 = 1
        prop0 = self.light0 + len(signals.heads)
        stop0 = prop0 + len(signals.heads) + len(signals.stop_signs)
        self.static = graph_static_meshes(graph, signals, self.look.palette, self.camera.config, prop0, stop0)
        self.n_ids = stop0 + len(signals.stop_signs)
        rot, _ = self.camera.pose(0.0, 0.0, 0.0)
        fwd = rot.T @ np.array([0.0, 0.0, 1.0])
        uv, _ = self.camera.project(np.array([[fwd[0] * 1e4, fwd[1] * 1e4, self.camera.config.mount_height_m]]), rot,
                                    np.zeros(3))
        self.sky = self.look.sky_rows(self.camera.height, float(uv[0, 1]))

    def frame(self, x: float, y: float, yaw: float):
        s = self.signals
        rot, pos = self.camera.pose(x, y, yaw)
        ids = (self.light0 + np.arange(len(s.heads))).astype(np.int32)
        heads = boxes_mesh_of([light_head_boxes(s.head_x_m, s.head_y_m, s.head_yaw_rad, s.head_states(), ids,
                                                self.look.palette)])
        st = self.static
        return self.camera.render(st.ground, st.props, heads, 0.0, rot, pos, self.n_ids, self.sky, self.look.grass,
                                  chunks=st.chunks)


def labelled_tile(tc: TownCamera, route, route_s: float, title: str) -> np.ndarray:
    x, y, h = route.path.pose(route_s, 0.0)
    frame = tc.frame(float(x), float(y), float(h))
    lane = route.legs[route.leg_index(route_s)].lane
    left, right = ego_line_codes(tc.graph, lane)
    drivable, lanes, depth = dense_label_pass(frame.label, frame.instance, frame.depth_m, np.float32(SKY_DEPTH_M),
                                              left, right, ROAD, CROSSWALK, STOP_LINE, OTHER_LINE, LINE_BASE,
                                              LANE_OTHER, LANE_EGO_LEFT, LANE_EGO_RIGHT)
    gt = GroundTruth(None, [], drivable, lanes, depth, frame.instance)
    img = np.concatenate([cv2.resize(frame.rgb, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_NEAREST),
                          draw_labels(frame.rgb, gt, scale=SCALE)], 1)
    cv2.putText(img, title, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
    return img


def stop_line_s(graph, route) -> float | None:
    """Route distance 12 m before the first stop line whose approach has a stop sign [m]."""
    for k, leg in enumerate(route.legs[:-1]):
        nxt = route.legs[k + 1]
        if leg.connector or not nxt.connector:
            continue
        j = graph.junctions[nxt.junction]
        if j.control != "signal" and (leg.lane.road, leg.lane.direction) in j.stop_s:
            s = nxt.route_s0 - CROSSWALK_M - STOP_LINE_SETBACK_M - 12.0
            if s > leg.route_s0:
                return s
    return None


def pick_route(graph, seed: int, length_m: float):
    """The first route from ``seed`` on with a left turn, a right turn and a stop sign on it."""
    for k in range(200):
        route = random_route(graph, np.random.default_rng(seed + k), length_m)
        commands = {m.command for m in route.maneuvers}
        if {"left", "right"} <= commands and stop_line_s(graph, route) is not None:
            return route
    raise SystemExit(f"no route of {length_m:.0f} m with a left, a right and a stop sign in 200 tries")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", type=int, default=7)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--route-length", type=float, default=1500.0)
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args()
    graph = generate_graph(TownSpec(args.grid), np.random.default_rng(args.seed))
    signals = JunctionSignals(graph, np.random.default_rng(args.seed + 1))
    signals.step(7.0)
    route = pick_route(graph, args.seed, args.route_length)
    tc = TownCamera(graph, signals, args.seed)

    shots = []
    for command, title in (("left", "left turn"), ("right", "right turn")):
        m = next(m for m in route.maneuvers if m.command == command)
        shots.append((m.start_m + 0.6 * (m.end_m - m.start_m), title))
    shots.append((stop_line_s(graph, route), "stop line, stop sign"))
    tiles = [labelled_tile(tc, route, s, f"{k + 1}  {title}") for k, (s, title) in enumerate(shots)]
    column = np.concatenate([t for tile in tiles for t in (tile, np.full((6, tile.shape[1], 3), 255, np.uint8))][:-1])

    s = np.linspace(0.0, route.length_m, int(route.length_m) + 1)
    x, y, _ = route.path.pose(s, np.zeros_like(s))
    x0, y0, x1, y1 = graph.bounds()
    px_per_m = (column.shape[0] - 1) / (y1 - y0 + 40.0)  # the map as tall as the frame column
    town = draw_map(graph, px_per_m, np.stack([x, y], 1))
    for k, (route_s, _) in enumerate(shots):  # where each frame was taken
        fx, fy, _ = route.path.pose(route_s, 0.0)
        c = (int((float(fx) - x0 + 20.0) * px_per_m), int((y1 + 20.0 - float(fy)) * px_per_m))
        cv2.circle(town, c, 11, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.putText(town, str(k + 1), (c[0] - 6, c[1] + 6), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 2, cv2.LINE_AA)
    height = max(town.shape[0], column.shape[0])
    pad = lambda img: np.pad(img, ((0, height - img.shape[0]), (0, 0), (0, 0)), constant_values=255)  # noqa: E731
    out = np.concatenate([pad(town), np.full((height, 6, 3), 255, np.uint8), pad(column)], 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(args.out, out[:, :, ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"{args.out}: {out.shape[1]}x{out.shape[0]}, route {route.length_m:.0f} m with "
          f"{', '.join(m.command for m in route.maneuvers)}")


if __name__ == "__main__":
    main()
