"""ONNX Runtime backend: the export cache, and the same outputs as PyTorch on fixed sim frames."""

import sys

import numpy as np
import pytest

from perception.onnx_backend import cached_export, onnxruntime_available
from perception.pipeline import Perception, resolve_backend


def test_cached_export_exports_once_and_never_leaves_half_files(tmp_path):
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"weights")
    calls = []

    def export(path):
        calls.append(path)
        path.write_bytes(b"onnx")
        return path

    a = cached_export(weights, "t-160x320", export, tmp_path / "cache")
    b = cached_export(weights, "t-160x320", export, tmp_path / "cache")
    assert a == b and a.read_bytes() == b"onnx" and len(calls) == 1
    assert cached_export(weights, "t-192x320", export, tmp_path / "cache") != a and len(calls) == 2  # size is in the key
    weights.write_bytes(b"retrained")
    assert cached_export(weights, "t-160x320", export, tmp_path / "cache") != a  # so are the weights

    def broken(path):
        path.write_bytes(b"half")
        raise RuntimeError("exporter died")

    with pytest.raises(RuntimeError):
        cached_export(weights, "t-broken", broken, tmp_path / "cache")
    left = list((tmp_path / "cache").iterdir())
    assert len(left) == 3 and all(p.is_file() and p.suffix == ".onnx" for p in left)  # no temp folder, no half file
    assert not any("broken" in p.name for p in left)


def test_cpu_sessions_keep_to_one_thread_in_a_pool_worker(tmp_path, monkeypatch):
    # alone, a session spins its threads during a run and parks them as it returns; in a worker that called
    # common.cores.share_cores it runs on the calling thread only (no second thread on a sibling's core)
    if not onnxruntime_available():
        pytest.skip("onnxruntime is not installed")
    import onnx
    from onnx import TensorProto, helper

    import common.cores
    from perception.onnx_backend import cpu_session

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    path = tmp_path / "relu.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    alone = cpu_session(path).get_session_options()
    assert alone.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    assert alone.get_session_config_entry("session.force_spinning_stop") == "1"
    assert alone.intra_op_num_threads == 0  # ONNX Runtime's default: every physical core
    import torch

    monkeypatch.setattr(common.cores, "_shared", False)
    threads = torch.get_num_threads()
    try:
        common.cores.share_cores()
        assert common.cores.cores_shared() and torch.get_num_threads() == 1
        worker = cpu_session(path)
    finally:
        torch.set_num_threads(threads)  # the rest of this test process keeps its cores
    assert worker.get_session_options().intra_op_num_threads == 1
    assert worker.run(None, {"x": np.array([[-1, 2, -3, 4]], np.float32)})[0].tolist() == [[0, 2, 0, 4]]


def test_resolve_backend(monkeypatch):
    assert resolve_backend("torch", "cpu") == "torch"
    assert onnxruntime_available()  # the test extra installs onnxruntime, onnx and onnxscript
    assert resolve_backend("auto", "cpu") == "onnxruntime"
    with pytest.raises(ValueError, match="backend"):
        resolve_backend("tensorrt", "cpu")
    with pytest.raises(ValueError, match="CPU"):
        resolve_backend("onnxruntime", "cuda:0")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed: auto falls back to torch
    assert not onnxruntime_available() and resolve_backend("auto", "cpu") == "torch"


@pytest.mark.slow
def test_onnxruntime_matches_torch_on_sim_frames(tmp_path):
    from perception.sources import SimSource

    with SimSource("drivestack/Town-v0", seed=1, steps=12) as src:
        frames = list(src)
    torch_stack = Perception.from_files(device="cpu", backend="torch")
    ort_stack = Perception.from_files(device="cpu", backend="onnxruntime", onnx_cache=tmp_path)
    assert (torch_stack.backend, ort_stack.backend) == ("torch", "onnxruntime")
    assert len(list(tmp_path.glob("*.onnx"))) == 2
    tracked = 0
    for f in frames:
        a, b = torch_stack.process(f), ort_stack.process(f)
        da, db = a.detections, b.detections
        assert np.array_equal(da.class_id, db.class_id) and np.array_equal(da.track_id, db.track_id)
        np.testing.assert_allclose(db.xyxy, da.xyxy, atol=0.5)  # [px]
        np.testing.assert_allclose(db.score, da.score, atol=2e-3)
        tracked += int((db.track_id >= 0).sum())
        assert (a.drivable != b.drivable).mean() < 1e-3 and (a.lane_mask != b.lane_mask).mean() < 1e-3
        np.testing.assert_allclose(b.depth_m, a.depth_m, rtol=1e-3)
        assert b.lane.offset_m == pytest.approx(a.lane.offset_m, abs=0.01)
    assert tracked > 0  # ONNX detections go through the same tracker and keep ids
    again = Perception.from_files(device="cpu", backend="onnxruntime", onnx_cache=tmp_path)  # from the cache
    assert again.hydranet.path == ort_stack.hydranet.path


@pytest.mark.slow
def test_onnx_light_head_matches_torch(tmp_path):
    """The light head's outputs come through the ONNX export and the same post-processing."""
    import torch

    from perception.hydranet import HydraNet, HydraNetConfig
    from perception.onnx_backend import OnnxHydraNet

    torch.manual_seed(0)
    HydraNet(HydraNetConfig(width=0.5, neck_channels=16)).save(tmp_path / "h.pt")
    net = HydraNet.load(tmp_path / "h.pt")
    onnx_net = OnnxHydraNet.load(tmp_path / "h.pt", cache=tmp_path / "cache")
    images = np.random.default_rng(0).integers(0, 255, (2, 160, 320, 3), dtype=np.uint8)
    a, b = net.predict(images), onnx_net.predict(images)
    assert list(a.light_state) == list(b.light_state)
    np.testing.assert_allclose(b.light_probs, a.light_probs, atol=1e-4)
    np.testing.assert_allclose(b.light_distance_m, a.light_distance_m, rtol=1e-4)


def test_class_argmax_matches_numpy_including_ties():
    from perception.onnx_backend import _argmax_classes

    scores = np.random.default_rng(0).normal(size=(2, 4, 16, 32)).astype(np.float32)
    scores[0, 2] = scores[0, 1]  # ties go to the lower class
    scores[1, 3, :4] = scores[1, 0, :4]
    got = _argmax_classes(scores)
    assert got.dtype == np.uint8 and np.array_equal(got, scores.argmax(1))
