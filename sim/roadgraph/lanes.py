"""The graph's lanes as flat arrays, for traffic that steps every vehicle in one compiled pass.

Every street lane and every connector gets a lane id (street lanes first, in
``RoadGraph.all_street_lanes`` order, so the lanes of one street direction are consecutive
from its leftmost lane; then one id per connector). A vehicle's place on a lane is its
progress ``p`` [m] from the lane's start, whichever way the lane runs on its road. Connectors
whose paths come within ``CONFLICT_M`` of each other inside a junction conflict: at most one of
two conflicting connectors holds vehicles at a time (pairs from one approach lane only diverge
and are handled by car following instead).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..traffic import KIND_DIMS_M
from .traffic_kernels import connector_conflicts
from .graph import CROSSWALK_M, STOP_LINE_SETBACK_M, LaneRef, RoadGraph

CONFLICT_M = 3.2  # connector centre paths closer than this conflict: a bus is 2.55 m wide [m]
_CONFLICT_STEP_M = 1.0  # path sampling for the conflict test [m]
SIZE_JITTER = 1.08  # vehicles are drawn up to this much larger than their kind's size [-]
STOP_TO_END_M = CROSSWALK_M + STOP_LINE_SETBACK_M  # stop line to the street's end [m]


@dataclass(frozen=True)
class LaneTable:
    """Per-lane and per-connector arrays of one graph (ids as the module docstring says)."""

    refs: list[LaneRef]  # lane id -> LaneRef
    index: dict[LaneRef, int]  # LaneRef -> lane id
    length_m: np.ndarray  # (L,) [m]
    stop_p: np.ndarray  # (L,) stop line progress on street lanes, inf on connectors [m]
    is_connector: np.ndarray  # (L,) bool
    group_first: np.ndarray  # (L,) lane id of lane 0 of the same street direction (itself on connectors)
    group_lanes: np.ndarray  # (L,) lanes in that street direction (1 on connectors)
    exit_start: np.ndarray  # (L + 1,) CSR into exit_conn: connectors leaving each lane
    exit_conn: np.ndarray  # connector indices
    conn_lane: np.ndarray  # (C,) lane id of each connector
    conn_src: np.ndarray  # (C,) lane id of its approach lane
    conn_dst: np.ndarray  # (C,) lane id of its exit lane
    conn_limit_m_s: np.ndarray  # (C,) comfortable speed through it (lateral acceleration) [m/s]
    conflict_start: np.ndarray  # (C + 1,) CSR into conflict_conn
    conflict_conn: np.ndarray  # connector indices conflicting with each connector

    @staticmethod
    def build(graph: RoadGraph, lateral_accel_m_s2: float = 2.0) -> "LaneTable":
        refs = graph.all_street_lanes() + [c.lane for c in graph.connectors]
        index = {ref: k for k, ref in enumerate(refs)}
        n_street = len(refs) - len(graph.connectors)
        length = np.array([graph.roads[r.road].length_m for r in refs])
        stop_p = np.full(len(refs), np.inf)
        first = np.arange(len(refs))
        lanes = np.ones(len(refs), np.int64)
        for k, r in enumerate(refs[:n_street]):
            j = graph.junctions[graph.junction_ahead(r.road, r.direction)]
            # a highway taper or gore has no stop line: the lane's end is where entry is decided
            s = j.stop_s.get((r.road, r.direction), length[k] if r.direction > 0 else 0.0)
            stop_p[k] = s if r.direction > 0 else length[k] - s
            first[k] = k - r.lane
            lanes[k] = graph.street_lanes(r.road, r.direction)
        exits = [[] for _ in refs]
        for c_idx, c in enumerate(graph.connectors):
            exits[index[c.src]].append(c_idx)
        conn_lane = np.arange(n_street, len(refs))
        conn_src = np.array([index[c.src] for c in graph.connectors], np.int64)
        conn_dst = np.array([index[c.dst] for c in graph.connectors], np.int64)
        limit = np.array([_turn_speed(graph.roads[c.road], lateral_accel_m_s2) for c in graph.connectors])
        conflicts = _conflicts(graph)
        return LaneTable(refs, index, length, stop_p, np.arange(len(refs)) >= n_street, first.astype(np.int64), lanes,
                         *_csr(exits), conn_lane.astype(np.int64), conn_src, conn_dst, limit, *_csr(conflicts))


def _csr(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    start = np.concatenate([[0], np.cumsum([len(x) for x in lists])]).astype(np.int64)
    flat = np.array([v for x in lists for v in x], np.int64)
    return start, flat


def _turn_speed(road, lateral_accel_m_s2: float) -> float:
    kappa = float(np.max(np.abs(road.curvature)))
    return min(road.speed_limit_m_s, float(np.sqrt(lateral_accel_m_s2 / max(kappa, 1e-6))))


def _conflicts(graph: RoadGraph) -> list[list[int]]:
    """For each connector, the connectors of its junction that a vehicle on it can touch: centre
    paths closer than CONFLICT_M, or the largest vehicle's box placed along both (its body swings
    wide in a turn) overlapping somewhere. Placements run from the stop line to half a body past
    the connector's end, where a grant is held. The pairs are tested in one compiled pass per
    junction (``traffic_kernels.connector_conflicts``)."""
    out: list[list[int]] = [[] for _ in graph.connectors]
    body_m = np.max(KIND_DIMS_M[:, :2], axis=0) * SIZE_JITTER  # the largest vehicle's length, width [m]
    back = np.arange(_CONFLICT_STEP_M, STOP_TO_END_M + _CONFLICT_STEP_M, _CONFLICT_STEP_M)
    ahead = np.arange(_CONFLICT_STEP_M, body_m[0] / 2 + _CONFLICT_STEP_M, _CONFLICT_STEP_M)
    packed = graph.packed  # poses bit-identical to each road's own ``pose``
    for j in graph.junctions:
        if len(j.connectors) < 2:
            continue
        roads = [graph.roads[graph.connectors[c].road] for c in j.connectors]
        length = np.array([r.length_m for r in roads])
        count = np.maximum(2, (length / _CONFLICT_STEP_M).astype(np.int64) + 1)
        start = np.concatenate([[0], np.cumsum(count)])
        owner = np.repeat(np.arange(len(roads)), count)
        i = np.arange(start[-1]) - start[owner]
        s = i * (length / (count - 1))[owner]  # np.linspace(0, length, count): i * step + 0.0, the last one length
        s[start[1:] - 1] = length
        d = np.array([r.lane_centre_d(0, 1) for r in roads])[owner]
        x, y, h = packed.pose(np.array([r.road_id for r in roads])[owner], s, d)
        first, last = start[:-1], start[1:] - 1
        c0, s0, c1, s1 = np.cos(h[first]), np.sin(h[first]), np.cos(h[last]), np.sin(h[last])
        before = (x[first, None] - back * c0[:, None], y[first, None] - back * s0[:, None])  # (C, back.size) [m]
        after = (x[last, None] + ahead * c1[:, None], y[last, None] + ahead * s1[:, None])
        pieces = []
        for k in range(len(roads)):
            run = slice(first[k], last[k] + 1)
            bh = np.concatenate([np.full(back.size, h[first[k]]), h[run], np.full(ahead.size, h[last[k]])])
            pieces.append(np.stack([np.concatenate([before[0][k], x[run], after[0][k]]),
                                    np.concatenate([before[1][k], y[run], after[1][k]]), np.cos(bh), np.sin(bh)], 1))
        srcs = [graph.connectors[c].src for c in j.connectors]
        src = np.array([srcs.index(ref) for ref in srcs], np.int64)  # equal approach lanes, equal numbers
        placed = np.concatenate(pieces)
        hit = connector_conflicts(np.stack([x, y], 1), start.astype(np.int64), np.ascontiguousarray(placed[:, :2]),
                                  np.ascontiguousarray(placed[:, 2:]), _starts(pieces), src,
                                  0.5 * body_m[0], 0.5 * body_m[1], CONFLICT_M)
        for a, b in zip(*np.nonzero(np.triu(hit))):
            out[j.connectors[a]].append(j.connectors[b])
            out[j.connectors[b]].append(j.connectors[a])
    return out


def _starts(parts: list[np.ndarray]) -> np.ndarray:
    """CSR row starts of the concatenation of ``parts``."""
    return np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
