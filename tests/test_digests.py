"""The one file digest and the one JSON digest every layer uses."""

import hashlib
from pathlib import Path

import pytest

from zoocheck.digests import file_digest, file_digest_or_none, json_digest


@pytest.mark.parametrize("algorithm", ["sha256", "sha1", "md5"])
def test_file_digest_equals_hashlib_over_several_blocks(tmp_path, algorithm):
    payload = bytes(range(256)) * (3 * 4096 + 7)  # 3 MiB and a bit: four 1 MiB reads
    path = tmp_path / "weights.bin"
    path.write_bytes(payload)
    assert file_digest(path, algorithm) == hashlib.new(algorithm, payload).hexdigest()
    assert file_digest(path) == hashlib.sha256(payload).hexdigest()


def test_a_folder_has_no_file_digest(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "inference.pdiparams").write_bytes(b"x")
    assert file_digest_or_none(tmp_path / "model") is None
    assert file_digest_or_none(tmp_path / "model" / "inference.pdiparams") == hashlib.sha256(b"x").hexdigest()


def test_json_digest_ignores_dict_order_and_sees_every_value():
    assert json_digest({"a": 1, "b": [1, 2]}) == json_digest({"b": [1, 2], "a": 1})
    assert json_digest({"a": 1, "b": [1, 2]}) != json_digest({"a": 1, "b": [2, 1]})
    assert json_digest({"weights": Path("/w/r18.pth")}) == json_digest({"weights": "/w/r18.pth"})


def test_json_digest_keeps_the_keys_of_existing_caches_and_checkpoints():
    # the crop cache's folder names and an eval checkpoint's key, as stores written before this
    # helper have them: a changed formula would silently orphan every cache and checkpoint
    assert (
        json_digest(["zoocheck-crops-v1", {"resize": 256, "crop": [224, 224]}])
        == "64b2f4cb9cdfe73372fad70bb79562456a74d22a75133769bf6f58e8591fd3ab"
    )
    assert json_digest(["onnx:abc", "onnxruntime", "fp", "spec"]) == "8dc8117adafbc01b46ff35d125f59434480d5b8d12510a642b9d6d63a6d62e4f"
