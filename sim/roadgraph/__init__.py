"""Towns as road graphs: streets and junctions, lane connectors, signals, routes and commands.

- ``graph``: the types (``RoadGraph``, ``Junction``, ``Connector``, ``LaneRef``);
- ``paths``: curves sampled like a ``Road`` (fillets, cubic connectors, offsets);
- ``generator``: a seeded grid town (``TownSpec``, ``generate_graph``);
- ``signals``: light heads, phases with protected / permitted lefts, stop signs;
- ``planner`` and ``route``: Dijkstra over the lane graph, the route line and its commands;
- ``topdown``: a top-down map picture;
- ``lanes``, ``traffic`` and ``traffic_kernels``: vehicles that drive the graph (``GraphTraffic``).
"""
