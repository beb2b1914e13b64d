"""The command line on the navigation worlds: what runs there, and what is refused in one line."""

from __future__ import annotations

import json

import cv2
import yaml

from drivestack.cli import main
from sim import dataset as ds
from sim.labels import CLASS_NAMES


def _v1_policy(path):
    """A policy on the straight worlds' layout (v1, no route block), as the shipped one was until session 24."""
    from stable_baselines3 import PPO

    from control.envs import make_env
    from control.policies import save_policy

    return save_policy(PPO("MlpPolicy", make_env("town", 200.0), seed=0, device="cpu", verbose=0), path)


def test_policies_without_the_route_are_refused_in_navigation_worlds(capsys, tmp_path):
    # a v1 policy: one line naming both layouts and how to get a policy that reads the route
    v1 = str(_v1_policy(tmp_path / "v1.zip"))
    assert main(["eval", "policy", "--scenario", "townnav", "--rows", "ppo/labels", "--policy", v1]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "drivestack-features-v1" in err[0] and "drivestack-features-v2" in err[0]
    assert "--set stages=townnav_empty,townnav_traffic,townnav" in err[0]
    assert main(["eval", "policy", "--scenario", "townnav", "--rows", "pixels/camera"]) == 2
    assert "the pixels baseline reads no route" in capsys.readouterr().err
    assert main(["drive", "--scenario", "highwaynav", "--policy", v1, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "reads observation layout drivestack-features-v1" in err[0] and not (tmp_path / "r").exists()
    assert main(["drive", "--scenario", "nowhere", "--out", str(tmp_path / "r2")]) == 2
    assert "choose one of town, highway, townnav, highwaynav" in capsys.readouterr().err


def test_snapshot_of_a_navigation_town(tmp_path):
    out = tmp_path / "nav.png"
    assert main(["snapshot", "--scenario", "townnav", "--seed", "3", "--steps", "5", "--out", str(out)]) == 0
    assert cv2.imread(str(out)) is not None


def test_dataset_export_covers_the_navigation_worlds(tmp_path):
    out = tmp_path / "ds"
    manifest = ds.export_dataset(out, scenes=2, frames_per_scene=2, seed=0, every_n_steps=3, progress=False,
                                 scenario_kinds=("townnav", "highwaynav"), overrides={"scenario": {"route_length_m": 300.0}})
    assert manifest["complete"] and manifest["class_names"] == list(CLASS_NAMES)
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["names"] == dict(enumerate(CLASS_NAMES))
    scenes = [json.loads(p.read_text()) for p in sorted((out / "scenes").glob("*.json"))]
    assert {s["kind"] for s in scenes} == {"townnav", "highwaynav"}
    labels = list((out / "labels").rglob("*.txt"))
    assert len(labels) == 4 and any(p.stat().st_size > 0 for p in labels)


def test_eval_policy_set_reaches_every_rows_world_and_is_checked_first(capsys, tmp_path):
    from control.evaluate import row_objects

    env, _ = row_objects("rule-based/labels", "townnav", 300.0, None, None, False, "cpu", False,
                         ("scenario.right_on_red=true",))
    assert env.unwrapped.config.scenario.right_on_red
    env, _ = row_objects("rule-based/labels", "townnav", 300.0, None, None, False, "cpu", False)
    assert not env.unwrapped.config.scenario.right_on_red  # off by default
    out = tmp_path / "e"
    assert main(["eval", "policy", "--scenario", "townnav", "--rows", "rule-based/labels", "--seeds", "900000",
                 "--set", "scenario.right_on_red=maybe", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "scenario.right_on_red" in err[0] and not out.exists()


def test_route_length_range_draws_each_seeds_length_on_a_grid():
    from control.evaluate import ROUTE_LENGTH_STEP_M, route_lengths_m

    seeds = list(range(900000, 900050))
    lengths = route_lengths_m(seeds, (1000.0, 3000.0))
    assert all(1000 <= v <= 3000 and (v - 1000) % ROUTE_LENGTH_STEP_M == 0 for v in lengths)
    assert min(lengths) <= 1250 and max(lengths) >= 2750  # spread over the range, not one value
    assert route_lengths_m(seeds[10:20], (1000.0, 3000.0)) == lengths[10:20]  # a seed's length is its own
    assert route_lengths_m(seeds[:3], 700.0) == [700.0] * 3


def test_eval_policy_drives_each_seed_at_its_drawn_route_length(capsys):
    from control.evaluate import route_lengths_m

    assert main(["eval", "policy", "--rows", "rule-based/labels", "--seeds", "5-7", "--route-length", "50-550",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["route_length_m"] == [50.0, 550.0]
    assert [e["route_length_m"] for e in report["episodes"]] == route_lengths_m([5, 6, 7], (50.0, 550.0))
    for bad in ("3000-1000", "10-500", "1-2-3", "far"):
        assert main(["eval", "policy", "--rows", "rule-based/labels", "--route-length", bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"--route-length {bad!r}" in err[0]


def test_a_route_no_town_can_hold_is_one_line_before_driving(capsys, tmp_path):
    out = tmp_path / "e"
    assert main(["eval", "policy", "--scenario", "townnav", "--rows", "rule-based/labels", "--seeds", "900000,900001",
                 "--route-length", "9000", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--route-length 9000: seed 900000 (and 1 more seeds)" in err[0]
    assert "does not fit a town of 12 x 12 junctions" in err[0] and not out.exists()


def test_noisy_labels_rows_drive_the_measured_noise_and_only_when_named(capsys):
    """``*/noisy-labels`` rows read the labels through ``PerceptionNoise`` (what training validates on), seeded by
    the route (the same route drives the same way twice); the ``labels`` rows stay exact and are what ``eval policy``
    drives when no row is named."""
    from control.evaluate import row_objects
    from drivestack.evaluate import select_rows
    from perception.ground_truth import PerceptionNoise

    exact, _ = row_objects("rule-based/labels", "townnav", 300.0, None, None, False, "cpu", False)
    noisy, _ = row_objects("rule-based/noisy-labels", "townnav", 300.0, None, None, False, "cpu", False)
    assert exact.perception.noise == PerceptionNoise.none() and noisy.perception.noise == PerceptionNoise()
    args = ["eval", "policy", "--rows", "rule-based/labels,rule-based/noisy-labels", "--seeds", "5", "--route-length",
            "150", "--json"]
    runs = []
    for _ in range(2):
        assert main(args) == 0
        runs.append({e["row"]: e for e in json.loads(capsys.readouterr().out)["episodes"]})
    assert runs[0]["rule-based/noisy-labels"] == runs[1]["rule-based/noisy-labels"]
    assert runs[0]["rule-based/noisy-labels"]["mean_abs_jerk_m_s3"] != runs[0]["rule-based/labels"]["mean_abs_jerk_m_s3"]

    class Args:
        rows, policy, pixels_policy = None, None, None
    rows, _, _ = select_rows(Args, "townnav")
    assert "rule-based/labels" in rows and not any(r.endswith("noisy-labels") for r in rows)
