"""Bad input across every command: exit 2, ONE line in zoocheck's own words naming the problem,
no traceback, nothing written at the output path, and the temp dir exactly as it was.

Each case is (command line, words the line must contain). Placeholders in the command line are
files the fixtures below write: ``{out}`` (the output path, never created), ``{results}``,
``{file}`` (a plain file), ``{dir}`` (an empty folder), ``{r18}``/``{r34}`` (torchvision ResNet
state dicts), damaged checkpoints, ``{foreign_onnx}`` (an ONNX file whose zoocheck metadata names
another model), ``{bare_onnx}`` (one without metadata), ``{data}`` (a one-photo ImageFolder).
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest

from zoocheck.cli import main

MODEL = ["--src", "torchvision", "--model", "resnet18"]
RANDOM = [*MODEL, "--random-weights"]
OUT = ["--output", "{out}", "--results", "{results}"]
PAIR = ["torchvision:resnet18", "timm:resnet18.tv_in1k"]
LONG = "x" * 250

CASES = {
    # convert: naming the model and its weights
    "convert-unknown-source": (["convert", "--src", "caffe", "--model", "resnet18", "--random-weights", *OUT], "unknown source 'caffe'"),
    "convert-unknown-model": (["convert", "--src", "ppcls", "--model", "ResNet9000", "--random-weights", *OUT], "ResNet9000"),
    "convert-missing-weights": (["convert", *MODEL, "--weights", "{dir}/nope.pth", *OUT], "no such weights file"),
    "convert-weights-and-random": (
        ["convert", *MODEL, "--weights", "{r18}", "--random-weights", *OUT],
        "either --weights or --random-weights",
    ),
    "convert-seed-negative": (["convert", *RANDOM, "--seed", "-1", *OUT], "--seed -1"),
    "convert-seed-too-big": (["convert", *RANDOM, "--seed", str(2**32), *OUT], "seeds run from 0"),
    "convert-seed-not-a-number": (["convert", *RANDOM, "--seed", "one", *OUT], "--seed"),
    # convert: options
    "convert-opset-zero": (["convert", *RANDOM, "--opset", "0", *OUT], "opsets 7 to 20"),
    "convert-opset-too-high": (["convert", *RANDOM, "--opset", "99", *OUT], "opsets 7 to 20"),
    "convert-opset-ppcls-5": (
        ["convert", "--src", "ppcls", "--model", "ResNet18", "--random-weights", "--opset", "5", *OUT],
        "ppcls exporter writes opsets 7 to 19",
    ),
    "convert-opset-gluon-11": (
        ["convert", "--src", "gluon", "--model", "resnet18_v1", "--random-weights", "--opset", "11", *OUT],
        "opsets 12 to",
    ),
    "convert-opset-not-a-number": (["convert", *RANDOM, "--opset", "x", *OUT], "--opset"),
    "convert-unknown-option": (["convert", *RANDOM, "--colour", *OUT], "unrecognized arguments"),
    # convert: paths, refused before converting
    "convert-output-not-onnx": (["convert", *RANDOM, "--output", "{dir}/model.txt", "--results", "{results}"], "must end in .onnx"),
    "convert-output-is-a-directory": (["convert", *RANDOM, "--output", "{dir_onnx}", "--results", "{results}"], "is a directory"),
    "convert-output-under-a-file": (
        ["convert", *RANDOM, "--output", "{file}/model.onnx", "--results", "{results}"],
        "is a file, not a folder",
    ),
    "convert-output-name-too-long": (["convert", *RANDOM, "--output", f"{{dir}}/{LONG}.onnx", "--results", "{results}"], "byte limit"),
    "convert-output-unwritable": (
        ["convert", *RANDOM, "--output", "/proc/zoocheck-test.onnx", "--results", "{results}"],
        "cannot be written",
    ),
    "convert-results-is-a-file": (["convert", *RANDOM, "--output", "{out}", "--results", "{file}"], "results folder is a file"),
    "convert-results-under-a-file": (["convert", *RANDOM, "--output", "{out}", "--results", "{file}/results"], "is a file, not a folder"),
    "convert-output-holds-another-file": (
        ["convert", *RANDOM, "--output", "{foreign_onnx}", "--results", "{results}"],
        "already holds timm/",
    ),
    "convert-output-holds-a-foreign-file": (
        ["convert", *RANDOM, "--output", "{bare_onnx}", "--results", "{results}"],
        "a file zoocheck did not write",
    ),
    "convert-onnx-zoo-unpublished-file": (
        ["convert", "--src", "onnx-zoo", "--model", "resnet18-v1-7", "--weights", "{foreign_onnx}", *OUT],
        "not the file onnx-zoo publishes",
    ),
    # convert: weights files that cannot be used (read in the converter child)
    "convert-weights-random-bytes": (["convert", *MODEL, "--weights", "{random_pth}", *OUT], "not a PyTorch checkpoint"),
    "convert-weights-truncated": (["convert", *MODEL, "--weights", "{truncated_pth}", *OUT], "zoocheck fetch --src torchvision"),
    "convert-weights-empty": (["convert", *MODEL, "--weights", "{empty_pth}", *OUT], "is empty"),
    "convert-weights-whole-module": (["convert", *MODEL, "--weights", "{module_pth}", *OUT], "state_dict"),
    "convert-weights-other-architecture": (["convert", *MODEL, "--weights", "{r34}", *OUT], "--model resnet34"),
    "convert-gluon-given-a-torch-file": (
        ["convert", "--src", "gluon", "--model", "resnet18_v1", "--weights", "{r18}", *OUT],
        "not an MXNet .params file",
    ),
    "convert-pdparams-that-runs-code": (
        ["convert", "--src", "ppcls", "--model", "ResNet18", "--weights", "{evil_pdparams}", *OUT],
        "evil.pdparams",
    ),
    # parity
    "parity-max-rel-err-nan": (["parity", *RANDOM, "--max-rel-err", "nan", *OUT], "positive finite"),
    "parity-max-rel-err-negative": (["parity", *RANDOM, "--max-rel-err", "-1", *OUT], "positive finite"),
    "parity-max-rel-err-zero": (["parity", *RANDOM, "--max-rel-err", "0", *OUT], "positive finite"),
    "parity-max-rel-err-inf": (["parity", *RANDOM, "--max-rel-err", "inf", *OUT], "positive finite"),
    "parity-onnx-missing": (["parity", *RANDOM, "--onnx", "{dir}/nope.onnx", "--results", "{results}"], "no such ONNX file"),
    "parity-onnx-not-onnx": (["parity", *RANDOM, "--onnx", "{file}", "--results", "{results}"], "not a readable ONNX file"),
    "parity-onnx-of-another-model": (["parity", *RANDOM, "--onnx", "{foreign_onnx}", "--results", "{results}"], "this file is timm/"),
    "parity-onnx-of-another-seed": (
        [
            "parity",
            "--src",
            "timm",
            "--model",
            "{foreign_model}",
            "--random-weights",
            "--seed",
            "5",
            "--onnx",
            "{foreign_onnx}",
            "--results",
            "{results}",
        ],
        "random weights (seed 0), not",
    ),
    "parity-onnx-without-metadata": (["parity", *RANDOM, "--onnx", "{bare_onnx}", "--results", "{results}"], "--unverified-onnx"),
    "parity-unverified-without-onnx": (["parity", *RANDOM, "--unverified-onnx", *OUT], "goes with --onnx"),
    "parity-onnx-with-output": (["parity", *RANDOM, "--onnx", "{foreign_onnx}", *OUT], "--onnx checks an existing file"),
    "parity-several-models-one-output": (
        ["parity", "--src", "torchvision", "--model", "resnet1*", "--random-weights", *OUT],
        "take one model",
    ),
    "parity-images-missing": (["parity", *RANDOM, "--images", "{dir}/nope", *OUT], "--images"),
    "parity-images-none-found": (["parity", *RANDOM, "--images", "{dir}", *OUT], "no images"),
    "parity-images-none-decode": (["parity", *RANDOM, "--images", "{undecodable}", *OUT], "none of the 2 photographs decodes"),
    "parity-output-unwritable": (
        ["parity", *RANDOM, "--output", "/proc/zoocheck-test.onnx", "--results", "{results}"],
        "cannot be written",
    ),
    "parity-opset-out-of-range": (["parity", *RANDOM, "--opset", "3", *OUT], "opsets 7 to 20"),
    # eval
    "eval-workers-zero": (["eval", *RANDOM, "--data", "{data}", "--workers", "0", "--results", "{results}"], "--workers 0"),
    "eval-limit-zero": (["eval", *RANDOM, "--data", "{data}", "--limit", "0", "--results", "{results}"], "--limit 0"),
    "eval-batch-size-zero": (["eval", *RANDOM, "--data", "{data}", "--batch-size", "0", "--results", "{results}"], "--batch-size 0"),
    "eval-data-missing": (["eval", *RANDOM, "--data", "{dir}/nope", "--results", "{results}"], "nope"),
    "eval-data-no-layout": (["eval", *RANDOM, "--data", "{dir}", "--results", "{results}"], "layout"),
    "eval-onnx-not-onnx": (["eval", "--onnx", "{file}", "--data", "{data}", "--results", "{results}"], "not a readable ONNX file"),
    "eval-onnx-relabelled": (
        ["eval", "--src", "ppcls", "--model", "ResNet18_vd", "--onnx", "{foreign_onnx}", "--data", "{data}", "--results", "{results}"],
        "this file is timm/",
    ),
    "eval-onnx-without-metadata": (["eval", "--onnx", "{bare_onnx}", "--data", "{data}", "--results", "{results}"], "--unverified-onnx"),
    "eval-onnx-without-metadata-random-weights": (
        ["eval", "--onnx", "{bare_onnx}", "--random-weights", "--data", "{data}", "--results", "{results}"],
        "--unverified-onnx",
    ),
    "eval-onnx-native-backend": (
        ["eval", "--onnx", "{foreign_onnx}", "--backend", "native", "--data", "{data}", "--results", "{results}"],
        "--backend native",
    ),
    "eval-cache-dir-is-a-file": (
        ["eval", *RANDOM, "--data", "{data}", "--cache-dir", "{file}", "--results", "{results}"],
        "is a file, not a folder",
    ),
    "eval-results-is-a-file": (["eval", *RANDOM, "--data", "{data}", "--results", "{file}"], "results folder is a file"),
    "eval-no-model": (["eval", "--data", "{data}", "--results", "{results}"], "--src and --model"),
    # preprocess
    "preprocess-onnx-of-another-model": (["preprocess", *MODEL, "--onnx", "{foreign_onnx}"], "this file is timm/"),
    "preprocess-onnx-without-metadata": (["preprocess", *MODEL, "--onnx", "{bare_onnx}"], "--unverified-onnx"),
    "preprocess-onnx-missing": (["preprocess", *MODEL, "--onnx", "{dir}/nope.onnx"], "no such ONNX file"),
    "eval-onnx-of-another-seed": (
        [
            "eval",
            "--src",
            "timm",
            "--model",
            "{foreign_model}",
            "--random-weights",
            "--seed",
            "4",
            "--onnx",
            "{foreign_onnx}",
            "--data",
            "{data}",
            "--results",
            "{results}",
        ],
        "random weights (seed 0), not",
    ),
    # table, audit, registry commands
    "table-output-unwritable": (["table", "--output", "/proc/zoocheck-table.md", "--results", "{results}"], "cannot be written"),
    "table-output-is-a-directory": (["table", "--output", "{dir}", "--results", "{results}"], "is a directory"),
    "table-unknown-format": (["table", "--format", "xlsx", "--results", "{results}"], "--format"),
    "table-unknown-source": (["table", "--src", "caffe", "--results", "{results}"], "unknown source"),
    "table-results-is-a-file": (["table", "--results", "{file}"], "results folder is a file"),
    "audit-unknown-source": (["audit", "--src", "caffe", "--results", "{results}"], "unknown source"),
    "audit-results-is-a-file": (["audit", "--src", "torchvision", "--results", "{file}"], "results folder is a file"),
    "fetch-url-of-another-file": (
        ["fetch", "--src", "torchvision", "--model", "resnet18", "--url", "{file}", "--no-progress"],
        "give --url a copy of that file, or leave --url out",
    ),
    "fetch-unknown-model": (["fetch", "--src", "ppcls", "--model", "ResNet9000"], "ResNet9000"),
    "show-unknown-model": (["show", "--src", "timm", "--model", "nonexistent_net"], "nonexistent_net"),
    "list-unknown-source": (["list", "--src", "caffe"], "unknown source"),
    "list-excluded-with-arch": (
        ["list", "--excluded", "--arch", "resnet*"],
        "--excluded rows have no architecture id: select them with --src",
    ),
    "list-excluded-unknown-source": (["list", "--excluded", "--src", "caffe"], "unknown source 'caffe'"),
    "report-unknown-source": (["report", "--src", "caffe", "--results", "{results}", "--output", "{out}"], "unknown source 'caffe'"),
    "report-results-is-a-file": (["report", "--results", "{file}", "--output", "{out}"], "results folder is a file"),
    # compare
    "compare-weights-and-random": (
        ["compare", *PAIR, "--weights", "{r18}", "{r18}", "--random-weights", "--results", "{results}"],
        "either --weights A B or --random-weights",
    ),
    "compare-missing-weights": (
        ["compare", *PAIR, "--weights", "{dir}/nope.pth", "{r18}", "--results", "{results}"],
        "nope.pth: no such weights file or directory; check the --weights path",
    ),
    "compare-no-weights-fetched": (["compare", *PAIR, "--results", "{results}"], "pass --weights A B, or --random-weights"),
    "compare-images-missing": (
        ["compare", *PAIR, "--random-weights", "--images", "{dir}/nope", "--results", "{results}"],
        "nope: not a directory of images; check the --images folder",
    ),
    "compare-results-is-a-file": (["compare", *PAIR, "--random-weights", "--results", "{file}"], "results folder is a file"),
    # eval and diff-eval: the other options
    "eval-unverified-without-onnx": (
        ["eval", *RANDOM, "--unverified-onnx", "--data", "{data}", "--results", "{results}"],
        "--unverified-onnx goes with --onnx FILE",
    ),
    "eval-max-drop-over-100": (
        ["eval", "--onnx", "{foreign_onnx}", "--data", "{data}", "--max-drop", "150", "--results", "{results}"],
        "--max-drop 150: give a percentage",
    ),
    "diff-eval-max-drop-negative": (
        ["diff-eval", "{file}", "{file}", "--max-drop", "-3", "--results", "{results}"],
        "--max-drop -3: give a percentage",
    ),
    "diff-eval-unknown-predictions": (["diff-eval", "{dir}/a.npz", "{dir}/b.npz", "--results", "{results}"], "a.npz: no evaluation in"),
    # parity, preprocess, quantize, sweep: the other options
    "parity-onnx-with-precision": (
        ["parity", *RANDOM, "--onnx", "{foreign_onnx}", "--precision", "int8", "--results", "{results}"],
        "make its variant with `zoocheck quantize`",
    ),
    "preprocess-images-missing": (
        ["preprocess", *MODEL, "--images", "{dir}/nope", "--results", "{results}"],
        "nope: not a directory of images; check the --images folder",
    ),
    "quantize-output-not-onnx": (
        ["quantize", "{foreign_onnx}", "--precision", "fp16", "--output", "{out}.txt", "--results", "{results}"],
        "must end in .onnx",
    ),
    "quantize-output-is-its-input": (
        ["quantize", "{foreign_onnx}", "--precision", "fp16", "--output", "{foreign_onnx}", "--results", "{results}"],
        "is the fp32 file itself; name another --output",
    ),
    "quantize-without-metadata": (
        ["quantize", "{bare_onnx}", "--precision", "fp16", "--output", "{out}", "--results", "{results}"],
        "convert it with `zoocheck convert` first",
    ),
    "quantize-calibration-without-int8": (
        ["quantize", "{foreign_onnx}", "--precision", "fp16", "--calibration", "{dir}", "--results", "{results}"],
        "use it with --precision int8",
    ),
    "sweep-images-missing": (
        ["sweep", "--src", "torchvision", "--arch", "resnet18", "--random-weights", "--images", "{dir}/nope", "--results", "{results}"],
        "check the --images folder",
    ),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """The input files the cases name, written once."""
    import onnx
    import torch
    import torchvision
    from onnx import TensorProto, helper

    from zoocheck.zoo_registry import get_entry

    root = tmp_path_factory.mktemp("bad-inputs")
    (root / "dir").mkdir()
    (root / "dir.onnx").mkdir()
    (root / "plain.txt").write_text("not a model\n")
    r18 = torchvision.models.resnet18().state_dict()
    torch.save(r18, root / "r18.pth")
    torch.save(torchvision.models.resnet34().state_dict(), root / "r34.pth")
    torch.save(torchvision.models.resnet18(), root / "module.pth")
    data = (root / "r18.pth").read_bytes()
    (root / "truncated.pth").write_bytes(data[: len(data) // 2])
    (root / "random.pth").write_bytes(np.random.default_rng(0).bytes(4096))
    (root / "empty.pth").write_bytes(b"")

    class Payload:  # unpickling it would create the marker
        def __reduce__(self):
            return (os.system, (f"touch {root / 'pwned'}",))

    (root / "evil.pdparams").write_bytes(pickle.dumps({"conv1_weights": np.zeros((2, 2), np.float32), "x": Payload()}))

    foreign = get_entry("timm", "resnet50")
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input"], ["logits"])],
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1000])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])],
    )
    bare = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(bare, root / "bare.onnx")
    meta = {
        "source": foreign.source,
        "model": foreign.name,
        "random_weights": True,
        "random_seed": 0,
        "weights": None,
        "preprocess": foreign.preprocess.to_dict(),
    }
    helper.set_model_props(bare, {"zoocheck": json.dumps(meta)})
    onnx.save(bare, root / "foreign.onnx")

    undecodable = root / "undecodable"
    undecodable.mkdir()
    (undecodable / "a.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (undecodable / "b.png").write_bytes(b"\x89PNG broken")

    from zoocheck.checks.images import bundled_photos

    data_dir = root / "data" / "n01440764"
    data_dir.mkdir(parents=True)
    photo = bundled_photos()[0]
    (data_dir / f"ILSVRC2012_val_00000001{photo.suffix}").write_bytes(photo.read_bytes())
    return {
        "file": str(root / "plain.txt"),
        "dir": str(root / "dir"),
        "dir_onnx": str(root / "dir.onnx"),
        "r18": str(root / "r18.pth"),
        "r34": str(root / "r34.pth"),
        "module_pth": str(root / "module.pth"),
        "truncated_pth": str(root / "truncated.pth"),
        "random_pth": str(root / "random.pth"),
        "empty_pth": str(root / "empty.pth"),
        "evil_pdparams": str(root / "evil.pdparams"),
        "pwned": str(root / "pwned"),
        "foreign_onnx": str(root / "foreign.onnx"),
        "foreign_model": foreign.name,
        "bare_onnx": str(root / "bare.onnx"),
        "undecodable": str(undecodable),
        "data": str(root / "data"),
    }


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _snapshot(paths: list[str]) -> dict[str, bytes | None]:
    return {p: Path(p).read_bytes() if Path(p).is_file() else None for p in paths}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gives_one_clear_line_and_leaves_nothing(case, files, tmp_path, monkeypatch, capfd):
    argv_template, words = CASES[case]
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    (tmp / "someone-elses-file").write_text("kept")
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    monkeypatch.setenv("ZOOCHECK_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out" / "model.onnx"
    names = {**files, "out": str(out), "results": str(tmp_path / "results")}
    argv = [a.format(**names) for a in argv_template]
    inputs = [files[k] for k in ("foreign_onnx", "bare_onnx", "file")]
    before_inputs, before_tmp = _snapshot(inputs), _listing(tmp)

    code = main(argv)

    captured = capfd.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, (argv, captured.err)
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("zoocheck") and "error:" in lines[0], lines[0]
    assert words in lines[0], lines[0]
    assert "Traceback" not in captured.out + captured.err and "\x1b[" not in lines[0]
    assert not out.exists() and (not out.parent.exists() or _listing(out.parent) == [])
    assert _listing(tmp) == before_tmp
    assert _snapshot(inputs) == before_inputs  # nothing given as input was overwritten
    assert not Path(files["pwned"]).exists()
    results = tmp_path / "results"  # no result and no ONNX file half-written there (the failure log may name the file)
    assert not results.exists() or [p.name for p in results.rglob("*") if p.suffix == ".onnx" or p.name == "results.jsonl"] == []


def test_library_text_reaches_the_terminal_only_with_verbose(files, tmp_path, capfd):
    argv = ["convert", *MODEL, "--weights", files["random_pth"], "--output", str(tmp_path / "m.onnx"), "--results", str(tmp_path / "r")]
    assert main(argv) == 2
    quiet = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(quiet) == 1 and "weights_only" not in quiet[0]
    assert main([*argv, "--verbose"]) == 2
    verbose = capfd.readouterr().err
    assert verbose.splitlines()[0] == quiet[0] and len(verbose.splitlines()) > 1  # torch's own message follows
    [first, second] = [json.loads(line) for line in (tmp_path / "r" / "failures.jsonl").read_text().splitlines()]
    assert first["detail"] and first["bad_input"] and first["message"] in quiet[0]
