"""The road graph: streets and junction connectors as ``Road``s, junctions with their arms.

Every drivable piece is a ``Road`` (``sim.road``), so Frenet coordinates, packed poses and the
ground strips work on all of them alike, and a lane anywhere is one ``LaneRef``:
``(road, direction, lane)`` with ``road.lane_centre_d(lane, direction)`` its centre, as in
HighwayEnv's ``(from, to, id)`` lane index. Streets join junctions; inside a junction each legal
movement (left, straight, right from a given approach lane to a given exit lane) is a
connector: a one-lane, one-way ``Road`` without paint whose lane 0 (direction +1) starts on the
approach lane's end and ends on the exit lane's start, as OpenDRIVE's connecting roads do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, NamedTuple

import numpy as np

from ..road import LaneLine, PackedRoads, Road

Movement = Literal["left", "straight", "right"]
StreetKind = Literal["arterial", "residential", "highway", "ramp"]
# "merge": a highway junction (lane gain or drop taper, gore of an exit or an entrance, a seam
# where the speed changes); lanes only continue, split or join, nothing crosses and nobody stops
JunctionControl = Literal["signal", "all_way_stop", "two_way_stop", "merge"]
CROSSWALK_M = 3.0  # zebra band depth at each street end [m]
STOP_LINE_SETBACK_M = 1.0  # stop line this far before the crosswalk [m]


class LaneRef(NamedTuple):
    """One lane: a road, a direction of travel on it (+1 toward +s, -1 toward -s), a lane index
    counted from the centre line (0 is the leftmost lane of that direction)."""

    road: int
    direction: int
    lane: int


@dataclass(frozen=True)
class StreetInfo:
    kind: StreetKind
    one_way: bool  # True: lanes only toward +s (``lanes_bwd`` is 0)
    nodes: tuple[int, int]  # junction at s = 0 and at s = length


@dataclass(frozen=True)
class Connector:
    """A path through a junction for one movement, from an approach lane to an exit lane."""

    road: int  # its own one-lane ``Road``: travel is ``LaneRef(road, 1, 0)``
    junction: int
    movement: Movement
    src: LaneRef  # street lane that ends at the junction
    dst: LaneRef  # street lane that starts at it

    @property
    def lane(self) -> LaneRef:
        return LaneRef(self.road, 1, 0)


@dataclass(frozen=True)
class JunctionLine:
    """A line painted through a junction, along one of its connectors: ``line.d_m`` is in that
    connector road's Frenet frame (d = 0 is the connector lane's left edge, -lane width its right
    edge), painted like a street's line of the same style over the connector's whole length."""

    road: int  # the connector's road id
    line: LaneLine


@dataclass(frozen=True)
class Arm:
    """A street end at a junction."""

    street: int  # road id
    at_end: bool  # True: the street's s = length end touches the junction, False: its s = 0 end
    heading_out_rad: float  # pointing from the junction into the street [rad]

    @property
    def in_direction(self) -> int:
        """Direction of travel on the street that enters the junction from this arm."""
        return 1 if self.at_end else -1


@dataclass
class Junction:
    """Where streets meet: a paved polygon, the arms, the connectors and the right-of-way rule."""

    index: int
    centre_xy: tuple[float, float]  # [m]
    radius_m: float  # streets start this far from the centre [m]
    arms: list[Arm]  # sorted counter-clockwise by heading
    polygon: np.ndarray  # (P, 2) convex outline of the paved box, counter-clockwise [m]
    control: JunctionControl
    priority_arms: tuple[int, ...] = ()  # two-way stop: arms (indices into ``arms``) that do not stop
    protected_left: bool = False  # signal: lefts go only on their own arrow phase (else permitted on the ball, yielding)
    connectors: list[int] = field(default_factory=list)  # indices into ``RoadGraph.connectors``
    stop_s: dict[tuple[int, int], float] = field(default_factory=dict)  # (street, in direction) -> stop line s [m]
    # lines painted through the junction: the lane lines of lanes that continue through a highway
    # merge junction and the gore's edges (town junctions have none: their boxes are unpainted)
    painted: tuple[JunctionLine, ...] = ()


@dataclass
class RoadGraph:
    """A town: streets (``roads[:n_streets]``), then connectors (``roads[n_streets:]``), junctions."""

    roads: list[Road]
    streets: list[StreetInfo]
    junctions: list[Junction]
    connectors: list[Connector]

    @property
    def n_streets(self) -> int:
        return len(self.streets)

    def is_connector(self, road: int) -> bool:
        return road >= self.n_streets

    def connector_of(self, road: int) -> Connector:
        return self.connectors[road - self.n_streets]

    @cached_property
    def packed(self) -> PackedRoads:
        """All centrelines in flat arrays, for poses of objects on many roads in one pass."""
        return PackedRoads.build(self.roads)

    @cached_property
    def exits(self) -> dict[LaneRef, list[Connector]]:
        """Connectors leaving each street lane at the junction it runs into."""
        out: dict[LaneRef, list[Connector]] = {}
        for c in self.connectors:
            out.setdefault(c.src, []).append(c)
        return out

    def junction_ahead(self, street: int, direction: int) -> int:
        """The junction a street lane running in ``direction`` leads into."""
        return self.streets[street].nodes[1 if direction > 0 else 0]

    def street_lanes(self, street: int, direction: int) -> int:
        road = self.roads[street]
        return road.lanes_toward(direction)

    def lane_end_s(self, lane: LaneRef) -> float:
        """Where travel on a lane leaves its road [m]."""
        return self.roads[lane.road].length_m if lane.direction > 0 else 0.0

    def lane_start_s(self, lane: LaneRef) -> float:
        return 0.0 if lane.direction > 0 else self.roads[lane.road].length_m

    def all_street_lanes(self) -> list[LaneRef]:
        return [LaneRef(r, d, k) for r in range(self.n_streets) for d in (1, -1)
                for k in range(self.street_lanes(r, d))]

    def bounds(self) -> tuple[float, float, float, float]:
        """x0, y0, x1, y1 of every centreline sample [m]."""
        xy = self.packed.xy
        return float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max())
