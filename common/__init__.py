"""The bottom layer: what sim, perception, control and the application all share.

- ``common.config``: typed configs from YAML presets (``from_dict``, overrides, ``check_range``);
- ``common.errors``: the errors the command line turns into one-line messages;
- ``common.vocab``: the shared vocabulary (object classes, light states, lane-mask codes,
  nominal sizes, the camera mount, the vehicle's limits);
- ``common.device``: "auto" / "cpu" / "cuda[:N]" resolved one way for every caller;
- ``common.cores``: whether this process has the cores to itself or is one of a pool's workers;
- ``common.units``: seeded work units and the maps (one process, a pool, a cluster) that run them.

It imports none of ``sim``, ``perception``, ``control`` or ``drivestack`` (a test walks the
imports): each layer may import it, and only layers below themselves.
"""
