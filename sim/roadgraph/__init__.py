"""Towns as road graphs: streets and junctions, lane connectors, signals, routes and commands.

- ``graph``: the types (``RoadGraph``, ``Junction``, ``Connector``, ``LaneRef``);
- ``paths``: curves sampled like a ``Road`` (fillets, cubic connectors, offsets);
- ``generator``: a seeded grid town (``TownSpec``, ``generate_graph``);
- ``highway``: a seeded highway with interchanges, ramps, merges and lane drops (``HighwaySpec``,
  ``generate_highway``);
- ``signals``: light heads, phases with protected / permitted lefts, stop signs;
- ``planner`` and ``route``: Dijkstra over the lane graph, the route line and its commands;
- ``pedestrians``: walkers on every street's sidewalks, rounding corners, crossing at crosswalks
  and mid-block (``GraphPedestrians``);
- ``lanes``, ``traffic`` and ``traffic_kernels``: vehicles that drive the graph (``GraphTraffic``);
- ``ground`` and ``view_parts``: what the camera draws of a graph (ground decals, static props);
- ``topdown``: a top-down map picture.
"""
