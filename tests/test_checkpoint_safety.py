"""No checkpoint, in any pickle-based format zoocheck reads, runs code when read.

Each crafted file's ``__reduce__`` would create a marker file if anything called it; the tests
assert the read is refused with a one-line WeightsError and that the marker never appears.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from zoocheck.converters import WeightsError
from zoocheck.converters.safe_pickle import UnsafePickleError, load_state_pickle


class _Payload:
    """Unpickling this calls os.system, which would create ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _malicious_state(marker: Path) -> dict:
    return {"conv1.weight": np.zeros((2, 2), np.float32), "fc.bias": _Payload(marker)}


def test_restricted_unpickler_refuses_a_callable_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.pkl"
    bad.write_bytes(pickle.dumps(_malicious_state(marker)))
    with pytest.raises(UnsafePickleError, match="posix.system|os.system"):
        load_state_pickle(bad)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_restricted_unpickler_reads_plain_arrays_in_every_protocol(tmp_path, protocol):
    state = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.float64(2.5), "n": {"x": "y"}, "t": (1, [2])}
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps(state, protocol=protocol))
    loaded = load_state_pickle(path)
    np.testing.assert_array_equal(loaded["a"], state["a"])
    assert loaded["b"] == 2.5 and loaded["n"] == {"x": "y"} and loaded["t"] == (1, [2])


def test_object_arrays_are_refused(tmp_path):
    path = tmp_path / "objects.pkl"
    path.write_bytes(pickle.dumps({"w": np.array([1, "a"], dtype=object)}))
    with pytest.raises(UnsafePickleError, match="objects"):
        load_state_pickle(path)


def test_eval_is_admitted_only_as_paddles_tensor_idiom(tmp_path):
    class _Eval:
        def __init__(self, expression):
            self.expression = expression

        def __reduce__(self):
            return (eval, (self.expression, {"data": np.ones(2, np.float32)}))

    good = tmp_path / "good.pkl"
    good.write_bytes(pickle.dumps({"w": _Eval("data")}))
    np.testing.assert_array_equal(load_state_pickle(good)["w"], np.ones(2, np.float32))
    marker = tmp_path / "pwned"
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps({"w": _Eval(f"__import__('os').system('touch {marker}')")}))
    with pytest.raises(UnsafePickleError, match="eval"):
        load_state_pickle(bad)
    assert not marker.exists()


# -- every pickle-based checkpoint format, through its converter's real loading path ---------------


def _assert_refused(exc_info, path: Path, marker: Path) -> None:
    message = str(exc_info.value)
    assert "\n" not in message and str(path.name) in message
    assert not marker.exists()


def test_malicious_pdparams_runs_nothing(tmp_path):
    pytest.importorskip("paddle")
    from zoocheck.converters.paddle import PaddleClasConverter
    from zoocheck.zoo_registry import get_entry

    marker = tmp_path / "pwned"
    bad = tmp_path / "ResNet18_pretrained.pdparams"
    bad.write_bytes(pickle.dumps(_malicious_state(marker), protocol=4))
    with pytest.raises(WeightsError, match="refused") as info:
        PaddleClasConverter().load(get_entry("ppcls", "ResNet18"), bad)
    _assert_refused(info, bad, marker)


def test_pdparams_read_equals_paddle_load(tmp_path):
    """The restricted reader unpacks exactly what paddle.load returns, big-parameter slices included."""
    paddle = pytest.importorskip("paddle")
    from zoocheck.converters.paddle import read_pdparams

    state = {"conv.weight": paddle.randn([4, 3, 3, 3]), "fc.bias": paddle.randn([10])}
    for protocol in (2, 4):
        path = tmp_path / f"p{protocol}.pdparams"
        paddle.save(state, str(path), protocol=protocol)
        ours, theirs = read_pdparams(path), paddle.load(str(path), return_numpy=True)
        assert sorted(ours) == sorted(theirs)
        for key in theirs:
            np.testing.assert_array_equal(ours[key], theirs[key])


def test_pdparams_with_sliced_big_parameter_is_reassembled(tmp_path):
    from zoocheck.converters.paddle import read_pdparams

    whole = np.arange(12, dtype=np.float32).reshape(3, 4)
    flat = whole.ravel()
    saved = {
        "w@@.0": flat[:5],
        "w@@.1": flat[5:],
        "b": np.ones(2, np.float32),
        "UnpackBigParamInfor@@": {"w": {"OriginShape": (3, 4), "slices": ["w@@.0", "w@@.1"]}},
        "StructuredToParameterName@@": {"w": "linear_0.w_0", "b": "linear_0.b_0"},
    }
    path = tmp_path / "big.pdparams"
    path.write_bytes(pickle.dumps(saved, protocol=2))
    state = read_pdparams(path)
    assert sorted(state) == ["b", "w"]
    np.testing.assert_array_equal(state["w"], whole)


@pytest.mark.parametrize("suffix", [".pth", ".pt", ".bin"])
def test_malicious_torch_checkpoint_runs_nothing(tmp_path, suffix):
    torch = pytest.importorskip("torch")
    from zoocheck.converters.torch_common import read_state_dict

    marker = tmp_path / "pwned"
    bad = tmp_path / f"resnet18{suffix}"
    torch.save({"conv1.weight": torch.zeros(1), "evil": _Payload(marker)}, str(bad))
    with pytest.raises(WeightsError) as info:
        read_state_dict(bad)
    _assert_refused(info, bad, marker)


def test_malicious_mmpretrain_checkpoint_runs_nothing(tmp_path):
    torch = pytest.importorskip("torch")
    from zoocheck.converters.mmpretrain import MMPretrainConverter
    from zoocheck.zoo_registry import list_entries

    entry = next(e for e in list_entries("mmpretrain") if e.arch.id == "resnet18")
    marker = tmp_path / "pwned"
    bad = tmp_path / "resnet18_8xb32_in1k.pth"
    torch.save({"meta": {"evil": _Payload(marker)}, "state_dict": {"backbone.conv1.weight": torch.zeros(1)}}, str(bad))
    with pytest.raises(WeightsError) as info:
        MMPretrainConverter().load(entry, bad)
    _assert_refused(info, bad, marker)
