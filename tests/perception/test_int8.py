"""INT8 copies of the ONNX graphs (perception.int8): which layers stay float, the cache, and outputs close to fp32."""

import numpy as np
import pytest

from perception.int8 import cached_int8, final_layers, float_nodes


def _graph():
    """image -> Conv a -> Relu -> Conv b -> Sigmoid -> out1;  Relu -> Conv c -> out2;  Conv b -> Conv d -> Add(out of b) -> out3."""
    import onnx
    from onnx import TensorProto, helper

    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 1, 1], [1.0])
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"], name="a"),
             helper.make_node("Relu", ["a"], ["r"], name="relu"),
             helper.make_node("Conv", ["r", "w"], ["b"], name="b"),
             helper.make_node("Sigmoid", ["b"], ["out1"], name="sig"),
             helper.make_node("Conv", ["r", "w"], ["out2"], name="c"),
             helper.make_node("Conv", ["b", "w"], ["d"], name="d"),
             helper.make_node("Add", ["d", "b"], ["out3"], name="add")]
    shape = [1, 1, 4, 4]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in ("out1", "out2", "out3")],
                          [w])
    return onnx.checker.check_model(helper.make_model(g)) or g


def test_final_layers_are_the_weighted_nodes_that_reach_an_output_directly():
    g = _graph()
    # b reaches out1 through Sigmoid (and out3 through Add); c is an output; d reaches out3; a only through b, c, d
    assert sorted(final_layers(g)) == ["b", "c", "d"]
    assert sorted(float_nodes(g)) == ["add", "b", "c", "d", "sig"]  # the final layers and what follows them; a, relu int8


def test_cached_int8_makes_the_copy_once_and_leaves_nothing_half_written(tmp_path, monkeypatch):
    import perception.int8 as int8

    fp32 = tmp_path / "net-160x320.onnx"
    fp32.write_bytes(b"fp32 graph")
    monkeypatch.setattr(int8, "calibration_images", lambda hw: np.zeros((1, 3, *hw), np.float32))
    calls = []

    def fake_quantize(src, out, images):
        calls.append(images.shape)
        out.write_bytes(b"int8 graph")
        return out

    monkeypatch.setattr(int8, "quantize_int8", fake_quantize)
    a = cached_int8(fp32, (160, 320))
    assert a.name == "net-160x320-int8q1.onnx" and a.read_bytes() == b"int8 graph"
    assert cached_int8(fp32, (160, 320)) == a and calls == [(1, 3, 160, 320)]  # the second call reads the cache

    def broken(src, out, images):
        out.write_bytes(b"half")
        raise RuntimeError("quantizer died")

    other = tmp_path / "other.onnx"
    other.write_bytes(b"fp32")
    monkeypatch.setattr(int8, "quantize_int8", broken)
    with pytest.raises(RuntimeError):
        cached_int8(other, (160, 320))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net-160x320-int8q1.onnx", "net-160x320.onnx", "other.onnx"]


@pytest.mark.slow
def test_int8_stack_is_quantized_and_close_to_fp32_on_sim_frames():
    """The pair's INT8 copies (the detector's Detect decode and the dense heads' last layers float): the same road
    users boxed within a few pixels, and masks that agree on almost every pixel."""
    import onnx

    from perception.pipeline import Perception
    from perception.sources import SimSource

    with SimSource("drivestack/Town-v0", seed=3, steps=10, stride=2) as src:  # not a calibration drive (seed 7)
        frames = list(src)
    fp32 = Perception.from_files(device="cpu", backend="onnxruntime", track=False)
    int8 = Perception.from_files(device="cpu", backend="onnxruntime-int8", track=False)
    assert int8.backend == "onnxruntime-int8"
    for net in (int8.detector.source, str(int8.hydranet.path)):
        g = onnx.load(net).graph
        ops = [n.op_type for n in g.node]
        assert ops.count("QuantizeLinear") > 10 and "DequantizeLinear" in ops
    matched = boxes = 0
    for f in frames:
        a, b = fp32.process(f), int8.process(f)
        da, db = a.detections, b.detections
        keep = da.score > 0.5  # the confident boxes: each has an int8 box of its class within 3 px
        for box, cls in zip(da.xyxy[keep], da.class_id[keep]):
            boxes += 1
            near = np.abs(db.xyxy - box).max(axis=1) < 3.0
            matched += bool((near & (db.class_id == cls)).any())
        assert (a.drivable != b.drivable).mean() < 0.01
        assert (a.lane_mask != b.lane_mask).mean() < 0.01
        known = a.depth_m > 0
        assert np.median(np.abs(b.depth_m - a.depth_m)[known] / a.depth_m[known]) < 0.03
    assert boxes >= 10 and matched >= 0.9 * boxes


def test_backend_bad_input_is_one_line(tmp_path, capsys):
    from drivestack.cli import main

    assert main(["drive", "--perception", "labels", "--backend", "onnxruntime-int8", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "--backend onnxruntime-int8" in err and "--perception labels" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "d").exists()  # nothing half-made
    with pytest.raises(SystemExit) as exc:  # argparse's own one-line error, naming the allowed runtimes
        main(["eval", "perception", "--backend", "int4"])
    assert exc.value.code == 2 and "onnxruntime-int8" in capsys.readouterr().err
    with pytest.raises(ValueError, match="CPU"):
        from perception.pipeline import resolve_backend

        resolve_backend("onnxruntime-int8", "cuda")


@pytest.mark.slow  # a 60 m drive from pixels through the INT8 copies (quantized on first use): about 30 s here
def test_eval_policy_models_rows_run_the_int8_copies(capsys):
    import json

    from drivestack.cli import main

    assert main(["eval", "policy", "--rows", "rule-based/models", "--seeds", "900000", "--route-length", "60",
                 "--backend", "onnxruntime-int8", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["backend"] == "onnxruntime-int8" and report["rows"]["rule-based/models"]["episodes"] == 1
    from control.evaluate import _CACHE

    perceptions = [v for k, v in _CACHE.items() if k[0] == "perception" and k[-1] == "onnxruntime-int8"]
    assert perceptions and perceptions[0].backend == "onnxruntime-int8"
