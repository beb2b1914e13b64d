"""The scenario's target as both suite worlds (the straight track's and the junction town's) report it."""

from __future__ import annotations

import math

import numpy as np


class PlanTarget:
    """Mixed into a suite world that has ``plan.target`` (("vehicle" | "walker", index)), ``ids``, ``traffic``
    and ``peds`` (each with ``boxes()`` and a speed array)."""

    @property
    def target_id(self) -> int:
        """Instance id of the scenario's target."""
        group, k = self.plan.target
        return (self.ids.vehicle0 if group == "vehicle" else self.ids.ped0) + k

    def target_motion(self) -> tuple[np.ndarray, np.ndarray]:
        """The target's footprint (5,) [x, y, yaw, length, width] and its velocity (2,) [m/s]."""
        group, k = self.plan.target
        if group == "vehicle":
            box, speed = self.traffic.boxes()[k], self.traffic.v[k]
        else:
            box, speed = self.peds.boxes()[k], self.peds.speed[k]
        # a walker's yaw is its walking direction; a vehicle's its body's (which changing lanes turns with its path)
        return np.array(box), speed * np.array([math.cos(box[2]), math.sin(box[2])])
