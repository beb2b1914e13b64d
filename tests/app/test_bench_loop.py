"""``drivestack bench loop`` at toy size through the real entry point: the report's shape, never its speed."""
import contextlib
import io
import json

import pytest

from drivestack.cli import main


@pytest.mark.slow
def test_bench_loop_json_reports_loop_stages_and_training():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["bench", "loop", "--json", "--seconds", "0.3", "--processes", "1,2", "--train-steps", "32"])
    assert rc == 0
    report = json.loads(out.getvalue())  # stdout holds the JSON object and nothing else

    assert {"device", "settings", "closed_loop", "training", "notes"} <= set(report)
    assert report["device"]["cpu"] and report["device"]["accelerator"]
    assert report["settings"]["perception_device"] == "cpu" and report["settings"]["processes"] == [1, 2]
    assert set(report["closed_loop"]) == {"models", "models-interleaved", "models-no-far-field", "models-int8", "labels"}
    for name in ("models", "models-int8"):  # the model loops in turns: each figure pools its rounds' steps
        fig = report["closed_loop"][name]
        assert fig["rounds"] == 2 and len(fig["steps_per_s_each_round"]) == 2
        assert min(fig["steps_per_s_each_round"]) <= fig["steps_per_s"] <= max(fig["steps_per_s_each_round"])
    assert report["closed_loop"]["models-int8"]["note"].startswith("the same networks' INT8 copies")
    for fig in report["closed_loop"].values():
        assert fig["unit"] == "steps/s" and fig["steps"] > 0 and fig["steps_per_s"] > 0
        assert set(fig["stages_ms"]) == {"env_step_render", "perception", "features", "policy", "features_policy"}
        assert all(v >= 0 for v in fig["stages_ms"].values()) and "supervisor" in fig["policy"]
    train = report["training"]
    assert train["unit"] == "env-steps/s"
    runs = train["runs"][:2]  # then, on a multi-core machine, 1 env with torch's default threads as the peer
    assert [r["envs"] for r in runs] == [1, 2] and [r["torch_threads"] for r in runs] == [1, 1]
    assert [r["vec_env"] for r in runs] == ["DummyVecEnv", "SubprocVecEnv"]
    assert all(r["env_steps"] >= 32 and r["env_steps_per_s"] > 0 for r in train["runs"])


def test_bench_loop_rejects_bad_train_steps(capsys):
    assert main(["bench", "loop", "--train-steps", "0"]) == 2
    assert "--train-steps" in capsys.readouterr().err
