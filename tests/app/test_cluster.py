"""``--ray``: the same results with and without Ray (episodes, dataset bytes per scene), retries, resume,
and the one-line errors (``drivestack.cluster``).

The Ray tests need the cluster extra (``pip install -e ".[cluster]"``) and skip without it; they start
one local Ray instance of 2 worker slots for the module (a few seconds) and one more through the CLI.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from drivestack.cli import main
from drivestack.cluster import FAULT_ENV, EXTRA

POLICY_ARGS = ["eval", "policy", "--rows", "rule-based/labels", "--seeds", "1-2", "--route-length", "50", "--json"]
EXPORT = dict(scenes=3, frames_per_scene=2, seed=5, progress=False)


def digests(folder: Path) -> dict[str, str]:
    """sha256 of every file of a dataset but data.yaml (which names its own folder)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "data.yaml"}


# --- without Ray ------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [POLICY_ARGS + ["--ray"],
                                  ["dataset", "--out", "OUT", "--scenes", "1", "--frames-per-scene", "1", "--seed", "0",
                                   "--ray", "auto"]])
def test_missing_extra_is_one_line(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, as without the extra
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and EXTRA in err
    assert not (tmp_path / "out").exists()  # nothing written


@pytest.mark.parametrize("extra, message", [(["--ray", "not an address"], "--ray 'not an address' is not allowed"),
                                            (["--ray-cpus", "2"], "--ray-cpus is not allowed without --ray")])
def test_bad_ray_values_are_one_line(extra, message, capsys):
    assert main(POLICY_ARGS + extra) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_probe_names_a_folder_the_node_does_not_share(tmp_path):
    from drivestack.cluster import _probe

    assert _probe(None) is None
    (tmp_path / "sentinel").write_bytes(b"")
    assert _probe(str(tmp_path / "sentinel")) is None
    assert "every node mounts" in _probe(str(tmp_path / "elsewhere" / "sentinel"))


def test_journal_resumes_only_the_units_that_had_not_finished(tmp_path):
    """An interrupted evaluation (``--ray --out``) run again runs only its unfinished units."""
    from common.units import in_order, journaled, serial_units

    calls = []

    def tenfold(x: int) -> int:
        calls.append(x)
        if x == 3 and calls.count(3) == 1:
            raise KeyboardInterrupt  # the run is stopped during unit 3
        return 10 * x

    units = [1, 2, 3, 4]
    with pytest.raises(KeyboardInterrupt):
        in_order(journaled(serial_units, tmp_path)(tenfold, units), len(units))
    assert calls == [1, 2, 3] and len(list(tmp_path.glob("*.pkl"))) == 2
    assert in_order(journaled(serial_units, tmp_path)(tenfold, units), len(units)) == [10, 20, 30, 40]
    assert calls == [1, 2, 3, 3, 4]


@pytest.mark.parametrize("workers", [1, 2])
def test_eval_policy_resumes_without_ray(workers, tmp_path, monkeypatch, capsys):
    """``eval policy --out`` on this machine alone, interrupted during a route, run again (in this process or over
    ``workers`` spawned ones): only the routes that had not finished are driven, and the report is the uninterrupted
    run's. (The interruption is in this process: a spawned worker imports the module afresh.)"""
    import functools

    import control.evaluate as ce

    args = POLICY_ARGS + ["--workers", str(workers)]
    assert main(POLICY_ARGS) == 0
    plain = json.loads(capsys.readouterr().out)
    episode = ce._episode_task

    @functools.wraps(episode)  # the journal names a unit by its function's name
    def stopped_at_seed_2(task):
        if task[1] == 2:
            raise KeyboardInterrupt
        return episode(task)

    out = tmp_path / "run"
    monkeypatch.setattr(ce, "_episode_task", stopped_at_seed_2)
    assert main(POLICY_ARGS + ["--out", str(out)]) == 130
    assert "run the same command again" in capsys.readouterr().err
    assert not (out / "report.json").exists() and len(list((out / ".units").glob("*.pkl"))) == 1
    capsys.readouterr()
    driven = []

    @functools.wraps(episode)
    def counted(task):
        driven.append(task[1])
        return episode(task)

    monkeypatch.setattr(ce, "_episode_task", counted)
    assert main(args + ["--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out) == plain
    assert not (out / ".units").exists() and (out / "report.json").exists()
    if workers == 1:  # the spawned workers' calls are not seen here
        assert driven == [2]


# --- with Ray (local instance) ----------------------------------------------------------------------
needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason=f"the cluster extra is not installed ({EXTRA})")


@needs_ray
def test_unreachable_cluster_is_one_line(capsys):
    assert main(POLICY_ARGS + ["--ray", "127.0.0.1:9"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no Ray cluster could be reached" in err


@pytest.mark.slow  # two runs of the command, one starting its own Ray instance: about 30 s on 2 busy cores
@needs_ray
def test_eval_policy_cli_same_episodes_with_ray(capsys):
    """The whole command: its own local instance, the same JSON report as one process."""
    assert main(POLICY_ARGS) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main(POLICY_ARGS + ["--ray", "--ray-cpus", "2"]) == 0
    assert json.loads(capsys.readouterr().out) == plain


@pytest.mark.slow  # the suite twice, once on its own Ray instance: about a minute on 2 busy cores
@needs_ray
def test_eval_suite_same_cases_with_ray_and_the_workers_write_the_clips(tmp_path, capsys):
    # at 47 km/h without the supervisor CCRs passes and RedLightRunner (its runner at 79 km/h) does not (a failure
    # clip for a worker to write)
    argv = ["eval", "suite", "--rows", "rule-based/labels", "--scenarios", "CCRs,RedLightRunner", "--sweep", "defaults",
            "--param", "ego_kmh=47", "--param", "runner_kmh=79", "--no-supervisor", "--json"]
    assert main(argv + ["--out", str(tmp_path / "plain")]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main(argv + ["--out", str(tmp_path / "ray"), "--ray", "--ray-cpus", "2"]) == 0
    on_ray = json.loads(capsys.readouterr().out)
    assert on_ray["cases"] == plain["cases"] and on_ray["table"] == plain["table"]
    failed = [c for c in plain["cases"] if not c["passed"]]
    assert failed and all((tmp_path / "ray" / c["clip"]).is_file() for c in failed)  # written by a worker
    assert not (tmp_path / "ray" / ".units").exists()  # the kept unit results go once the report is written


# one instance for the tests below (the CLI tests above start and stop their own: one per process at a time)
@pytest.fixture(scope="module")
def units():
    from drivestack.cluster import RaySpec, RayUnits

    with RayUnits(RaySpec(cpus=2)) as units:
        yield units


def _compare(units_map=None) -> dict:
    from control.evaluate import compare

    return compare(["rule-based/labels"], (1, 2), "town", 50.0, progress=False, units_map=units_map)


@needs_ray
def test_killed_worker_is_retried_same_episodes(units, tmp_path, monkeypatch):
    plain = _compare()
    monkeypatch.setenv(FAULT_ENV, f"exit:{tmp_path}")  # each unit's first worker dies mid-unit
    assert _compare(units) == plain
    assert sorted(p.name for p in tmp_path.iterdir()) == ["unit-0", "unit-1"]  # both did fail once


@needs_ray
def test_units_go_out_in_a_window(units, tmp_path, monkeypatch):
    """A window of one unit on two slots: the units run one after another (none starts before the one
    before it ended), and every result still comes back in its place."""
    import dataclasses

    def unit(k: int) -> int:
        import time

        start = time.time()
        time.sleep(0.3)
        (tmp_path / f"{k}").write_text(f"{start} {time.time()}")
        return k * k

    monkeypatch.setattr(units, "spec", dataclasses.replace(units.spec, in_flight=1))
    results = dict(units(unit, list(range(5))))
    assert results == {k: k * k for k in range(5)}
    spans = sorted(tuple(map(float, (tmp_path / f"{k}").read_text().split())) for k in range(5))
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:]))


@needs_ray
def test_export_same_bytes_per_scene_and_a_raising_unit_is_retried(units, tmp_path, monkeypatch):
    from sim.dataset import export_dataset

    export_dataset(tmp_path / "plain", **EXPORT)
    faults = tmp_path / "faults"
    faults.mkdir()
    monkeypatch.setenv(FAULT_ENV, f"raise:{faults}")
    summary = export_dataset(tmp_path / "ray", **EXPORT, units_map=units)
    assert summary["complete"] and len(list(faults.iterdir())) == EXPORT["scenes"]
    assert digests(tmp_path / "ray") == digests(tmp_path / "plain")


@needs_ray
def test_interrupted_export_resumes_on_ray(units, tmp_path):
    from sim.dataset import export_dataset

    export_dataset(tmp_path / "plain", **EXPORT)
    out = tmp_path / "ray"
    export_dataset(out, **EXPORT, units_map=units)
    # an interruption: scene 1 never finished (marker gone, a stray half-written file), no data.yaml yet
    (out / "scenes" / "scene_00001.json").unlink()
    split = json.loads((tmp_path / "plain" / "scenes" / "scene_00001.json").read_text())["split"]
    (out / "images" / split / "scene_00001_f0001.jpg").write_bytes(b"half")
    (out / "data.yaml").unlink()
    before = {p: (out / "scenes" / p).stat().st_mtime_ns for p in ("scene_00000.json", "scene_00002.json")}
    export_dataset(out, **EXPORT, units_map=units)
    assert digests(out) == digests(tmp_path / "plain") and (out / "data.yaml").is_file()
    assert before == {p: (out / "scenes" / p).stat().st_mtime_ns for p in before}  # finished scenes left alone


@pytest.mark.slow  # the shipped networks exported to ONNX for the session, then two evaluations: about 50 s here
def test_perception_units_merge_to_the_one_pass_report(tmp_path):
    """eval perception split into (kind, seed) units, merged in unit order: the one-pass report and
    the same example overlays (the units run here, through ``serial_units``: the merge is the point)."""
    from common.units import serial_units
    from perception.evaluate import EvalConfig, EvalModels, evaluate
    from perception.pipeline import model_paths

    models = EvalModels(*(str(p) for p in model_paths(None, None)), "cpu")
    config = EvalConfig(seeds=(5, 6), frames_per_seed=2, light_frames_per_seed=2, light_as_driven=True)
    one_pass = evaluate(models.build(), config, tmp_path / "one", progress=False, driving=models.build_driving())
    assert one_pass["light_as_driven"]["frames_with_light"] + one_pass["light_as_driven"]["frames_without"] == 12
    units = evaluate(models.build(), config, tmp_path / "units", progress=False, units_map=serial_units, models=models)
    assert units == one_pass
    assert digests(tmp_path / "units") == digests(tmp_path / "one")
