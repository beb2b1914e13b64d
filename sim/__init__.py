"""drivestack's driving simulator: procedural roads, traffic, a forward camera with exact labels.

Importing ``sim`` registers the gymnasium ids (entry points are strings, so nothing heavy loads):

- ``drivestack/Town-v0``: town streets with intersections, lights, pedestrians, parked cars.
- ``drivestack/Highway-v0``: multi-lane highway with faster traffic and lane changes.
- ``drivestack/TownNav-v0``: a road-graph town (junctions, signals, stop signs) and a planned
  route that turns, with route commands and waypoints in the labels (``sim.nav_world``).
- ``drivestack/HighwayNav-v0``: a highway with interchanges (on- and off-ramps, merges, lane
  drops) as a road graph; the route merges, changes lanes and exits.
- ``drivestack/Suite-v0``: one safety scenario (Euro NCAP AEB, leaderboard cases) on a straight
  test track, its actors scripted (``sim.suite``); takes ``scenario=`` and ``params=``.

All take ``config=`` (an ``EnvConfig`` or a nested dict of its fields) and keyword overrides.
"""

from gymnasium.envs.registration import register, registry

ENV_IDS = {"drivestack/Town-v0": "town", "drivestack/Highway-v0": "highway", "drivestack/TownNav-v0": "townnav",
           "drivestack/HighwayNav-v0": "highwaynav"}

for _env_id, _kind in ENV_IDS.items():
    if _env_id not in registry:
        register(id=_env_id, entry_point="sim.env:DriveEnv", kwargs={"scenario_kind": _kind})

SUITE_ENV_ID = "drivestack/Suite-v0"  # not a scenario kind: it plays a named scenario (``sim.suite``)
if SUITE_ENV_ID not in registry:
    register(id=SUITE_ENV_ID, entry_point="sim.suite.env:SuiteEnv")

SCENARIO_KINDS = tuple(dict.fromkeys(ENV_IDS.values()))  # every scenario family, once: what --scenario / --kinds accept
ENV_ID_OF_KIND = {kind: env_id for env_id, kind in ENV_IDS.items()}
