"""``drivestack bench sim`` at toy size through the real entry point: the report's shape, never its speed."""
import contextlib
import io
import json

import pytest

from drivestack.cli import main

FIGURES = ("town_camera", "town_no_camera", "highway_camera", "highway_no_camera", "townnav_camera", "townnav_no_camera",
           "highwaynav_camera", "highwaynav_no_camera")


@pytest.mark.slow
def test_bench_sim_json_reports_every_figure_with_units():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["bench", "sim", "--json", "--seconds", "0.3", "--processes", "1", "--no-peers"])
    assert rc == 0
    report = json.loads(out.getvalue())  # stdout holds the JSON object and nothing else

    assert {"device", "settings", "figures", "export", "peers", "ratios", "notes"} <= set(report)
    assert report["device"]["cores"] >= 1 and report["device"]["cpu"] and report["device"]["numpy"]
    assert report["settings"]["processes"] == [1]
    assert set(report["figures"]) == set(FIGURES)
    for name in FIGURES:
        fig = report["figures"][name]
        assert fig["unit"] == "steps/s" and fig["sim_s_per_step"] > 0
        assert fig["camera"] == (not name.endswith("no_camera"))
        [run] = fig["runs"]
        assert run["processes"] == 1 and run["steps"] > 0 and run["seconds"] > 0
        assert run["steps_per_s"] > 0 and run["per_process_steps_per_s"] == [run["steps_per_s"]]
    assert report["figures"]["town_camera"]["resolution_px"] == [320, 160]
    if report["export"] is None:
        assert any(n.startswith("dataset export") for n in report["notes"])
    else:
        assert report["export"]["unit"] == "frames/s" and report["export"]["frames_per_s"] > 0
    assert report["peers"] == {} and "peers: skipped (--no-peers)" in report["notes"]


def test_bench_rejects_zero_processes(capsys):
    assert main(["bench", "sim", "--processes", "0", "--no-peers"]) == 2
    assert "--processes" in capsys.readouterr().err


def test_gpu_network_figures_time_each_network_and_the_pair_on_a_copy():
    """``bench perception``'s GPU table, run on the CPU in fp32: every network timed at batch 1 and
    batched, the pair as the two passes together, and the caller's modules left in fp32 where they were."""
    import torch

    from drivestack.bench_gpu import gpu_network_figures

    nets = {"detector": torch.nn.Conv2d(3, 8, 3), "hydranet": torch.nn.Conv2d(3, 4, 3), "joint": torch.nn.Conv2d(3, 12, 3)}
    report = gpu_network_figures(nets, (32, 64), repeats=5, device="cpu", half=False, batch=4)
    figs = report["networks"]
    assert set(figs) == {"detector", "hydranet", "joint", "pair"} and report["precision"] == "fp32"
    assert figs["pair"]["batch4_ms"] == pytest.approx(figs["detector"]["batch4_ms"] + figs["hydranet"]["batch4_ms"], abs=2e-3)
    for f in figs.values():
        assert f["batch1_ms"] > 0 and f["images_per_s"] == pytest.approx(4e3 / f["batch4_ms"], rel=0.01)
    assert all(n.weight.dtype == torch.float32 for n in nets.values())
