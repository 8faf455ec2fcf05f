"""Bad usage and bad input: one line naming the problem and the fix, exit 2, nothing written; and
the paths past the option checks (a zoocheck bug, a missing dependency, a failure record).
More refusals, one per command and option: tests/test_bad_input.py."""

import json

import pytest

from zoocheck.cli import main


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "convert" in capsys.readouterr().out


def test_unknown_source_names_the_known_ones(capsys):
    assert main(["convert", "--src", "caffe", "--model", "resnet50", "--random-weights"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown source 'caffe'" in err and "torchvision" in err


@pytest.mark.parametrize("command", ["convert", "parity"])
def test_missing_weights_file_is_named(command, tmp_path, capsys):
    missing = tmp_path / "nope.pth"
    argv = [command, "--src", "torchvision", "--model", "resnet18", "--weights", str(missing), "--results", str(tmp_path / "r")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert str(missing) in err and "--weights" in err and err.count("\n") == 0
    assert not (tmp_path / "r" / "onnx").exists()


def test_weights_and_random_weights_together_are_refused(tmp_path, capsys):
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"x")
    assert main(["convert", "--src", "torchvision", "--model", "resnet18", "--weights", str(weights), "--random-weights"]) == 2
    assert "either --weights or --random-weights" in capsys.readouterr().err


def test_output_must_be_an_onnx_file(tmp_path, capsys):
    argv = ["convert", "--src", "torchvision", "--model", "resnet18", "--random-weights", "--output", str(tmp_path / "x.txt")]
    assert main(argv) == 2
    assert "must end in .onnx" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, named",
    [
        (["table", "--json", "--format", "html"], ("--json", "--format")),
        (["table", "--format", "md", "--output", "{tmp}/t.html"], ("--format md", "t.html")),
        (["table", "--json", "--output", "{tmp}/t.json"], ("--json", "--output")),
        (
            ["eval", "--src", "torchvision", "--model", "resnet18", "--data", "{tmp}", "--no-cache", "--cache-dir", "{tmp}/c"],
            ("--no-cache", "--cache-dir"),
        ),
        (["preprocess", "--src", "timm", "--model", "resnet18.a1_in1k", "--unverified-onnx"], ("--unverified-onnx", "--onnx")),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_options_that_contradict_each_other_are_refused(argv, named, tmp_path, capsys):
    argv = [arg.replace("{tmp}", str(tmp_path / "out")) for arg in argv]
    assert main([*argv, "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and all(option in err for option in named), err
    assert not (tmp_path / "out").exists() and not (tmp_path / "r").exists()


@pytest.mark.parametrize("command", ["convert", "parity"])
def test_a_canonical_graph_the_opset_cannot_hold_is_refused_before_converting(command, tmp_path, capsys):
    """A ViT's canonical graph is written from opset 13 (Split's sizes and Squeeze's axes inputs)."""
    argv = [command, "--src", "timm", "--model", "deit_tiny_patch16_224.fb_in1k", "--random-weights", "--results", str(tmp_path / "r")]
    assert main([*argv, "--graph", "canonical", "--opset", "12"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "opset 13" in err and "not 12" in err and "--graph native" in err
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").rglob("*.onnx"))


def test_without_graph_the_form_is_the_one_the_opset_holds():
    from zoocheck.converters.graph import resolve_form
    from zoocheck.zoo_registry import get_entry

    convnext, vit = get_entry("torchvision", "convnext_tiny").arch, get_entry("timm", "deit_tiny_patch16_224.fb_in1k").arch
    assert resolve_form(vit, None, opset=12) == "native" and resolve_form(vit, None, opset=13) == "canonical"
    # LayerNorm in its one decomposition below 17
    assert resolve_form(vit, None, opset=16) == resolve_form(convnext, None, opset=16) == "canonical"
    assert resolve_form(convnext, None, opset=8) == "native"  # GELU's Erf
    swin = get_entry("torchvision", "swin_t").arch  # its attention in the ViT's form
    assert resolve_form(swin, None, opset=12) == "native" and resolve_form(swin, None, opset=13) == "canonical"


def test_the_table_format_follows_the_output_suffix(tmp_path):
    html = tmp_path / "t.html"
    assert main(["table", "--src", "torchvision", "--arch", "resnet18", "--output", str(html), "--results", str(tmp_path / "r")]) == 0
    assert html.read_text().startswith("<!DOCTYPE html>")


# -- paths past the option checks: a zoocheck bug, a missing dependency, a failure record -------


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("zoocheck: error: ") and "Traceback" not in err, err
    return lines[0]


def test_a_zoocheck_bug_is_one_line_and_its_traceback_only_with_verbose(monkeypatch, capsys):
    def broken(_args):
        raise ValueError("no such column\nsecond line")

    monkeypatch.setattr("zoocheck.cli.table.run", broken)
    assert main(["table"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert (
        "internal error: ValueError: no such column (a zoocheck bug" in line
        and "second line" not in line
        and "--verbose shows where" in line
    )
    assert main(["table", "--verbose"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "in broken" in err and err.rstrip().splitlines()[-1] == line


def test_a_subcommand_whose_module_cannot_be_imported_says_so_and_the_others_work(monkeypatch, capsys, tmp_path):
    import importlib

    real_import = importlib.import_module

    def without_quantize(name, *args):
        if name == "zoocheck.cli.quantize":
            raise ModuleNotFoundError("No module named 'onnxconverter_common'")
        return real_import(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_quantize)
    assert main(["quantize", "model.onnx", "--precision", "fp16"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "`zoocheck quantize` is unavailable" in line and "onnxconverter_common" in line and "pip install zoocheck" in line
    assert main(["list", "--src", "torchvision", "--arch", "resnet18", "--json"]) == 0


def test_sweep_on_ray_without_ray_names_the_extra_to_install(monkeypatch, capsys, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as where it is not installed
    results = tmp_path / "r"
    argv = ["sweep", "--src", "torchvision", "--arch", "resnet18", "--random-weights", "--executor", "ray", "--results", str(results)]
    assert main(argv) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "Ray cannot be imported" in line and "pip install 'zoocheck[ray]'" in line
    assert not (results / "results.jsonl").exists() and not list(results.rglob("*.onnx"))


def test_preprocess_without_the_bundled_photographs_asks_for_images(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr("zoocheck.checks.images.bundled_photos", lambda: [])
    assert main(["preprocess", "--src", "timm", "--model", "resnet18.a1_in1k", "--results", str(tmp_path / "r")]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "no photographs" in line and "--images DIR" in line and "scikit-image" in line
    assert not (tmp_path / "r").exists()


def test_a_model_that_cannot_be_built_is_one_line_from_the_failure_log_in_eval(tmp_path, capsys, photos):
    """A conversion that fails inside `eval` (the ONNX zoo has no random-weights DenseNet writer):
    exit 1, the failure's line with the fix, recorded in failures.jsonl, no ONNX file."""
    data = tmp_path / "val" / "n01440764"
    data.mkdir(parents=True)
    (data / f"ILSVRC2012_val_00000001{photos[0].suffix}").write_bytes(photos[0].read_bytes())
    results = tmp_path / "r"
    argv = [
        "eval",
        "--src",
        "onnx-zoo",
        "--model",
        "densenet-12",
        "--random-weights",
        "--data",
        str(tmp_path / "val"),
        "--no-cache",
        "--no-progress",
        "--results",
        str(results),
    ]
    assert main(argv) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert (
        "onnx-zoo/densenet-12: build failed" in line
        and "zoocheck fetch --src onnx-zoo --model densenet-12" in line
        and str(results / "failures.jsonl") in line
    )
    [record] = [json.loads(text) for text in (results / "failures.jsonl").read_text().splitlines()]
    assert record["model"] == "densenet-12" and record["stage"] == "build" and not record["bad_input"]
    assert not list(results.rglob("*.onnx"))


def test_an_eval_whose_images_all_fail_to_decode_is_a_failure(tmp_path, capsys, torchvision_resnet18_onnx):
    data = tmp_path / "val" / "n01440764"
    data.mkdir(parents=True)
    (data / "ILSVRC2012_val_00000001.JPEG").write_bytes(b"\xff\xd8 not really a jpeg")
    argv = [
        "eval",
        "--onnx",
        str(torchvision_resnet18_onnx),
        "--data",
        str(tmp_path / "val"),
        "--no-cache",
        "--no-progress",
        "--results",
        str(tmp_path / "r"),
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "zoocheck: error: no image could be evaluated" in err


def test_a_variant_the_quantizer_refuses_is_one_line_and_no_file(tmp_path, capsys, monkeypatch, torchvision_resnet18_onnx):
    """The quantizer raising inside its own package: the line names the package and its message,
    the failure log keeps all it said, and no variant file is left."""
    library = tmp_path / "site-packages" / "fakequant"
    library.mkdir(parents=True)
    (library / "__init__.py").write_text(
        "def convert(*args, **kwargs):\n    raise RuntimeError('Unsupported op Foo in node 17\\nmore the library said')\n"
    )
    monkeypatch.syspath_prepend(str(library.parent))
    import fakequant

    monkeypatch.setattr("zoocheck.converters.variants.write_variant", fakequant.convert)
    output = tmp_path / "variant.onnx"
    results = tmp_path / "r"
    assert (
        main(["quantize", str(torchvision_resnet18_onnx), "--precision", "fp16", "--output", str(output), "--results", str(results)]) == 1
    )
    line = _one_error_line(capsys.readouterr().err)
    assert "export failed: RuntimeError raised inside fakequant: Unsupported op Foo in node 17 (--verbose shows all it said)" in line
    [record] = [json.loads(text) for text in (results / "failures.jsonl").read_text().splitlines()]
    assert record["detail"].endswith("more the library said")
    assert not output.exists()


# -- the Failure's one line, for each place an exception can come from --------------------------


def test_a_failure_in_zoocheck_words_keeps_its_message_the_fix_and_the_cause():
    from zoocheck.errors import BadInput
    from zoocheck.records import Failure
    from zoocheck.validate import check_seed

    try:
        try:
            raise OSError("disk quota exceeded")
        except OSError:
            check_seed(-1)  # zoocheck's own message, raised while handling the library's error
    except BadInput as exc:
        failure = Failure.from_exception("timm", "resnet18", "build", exc, fix="copy it again")
    assert failure.message == "--seed -1: seeds run from 0 to 4294967295; copy it again" and failure.bad_input
    assert failure.detail == "disk quota exceeded" and "BadInput" in failure.traceback_tail
    assert failure.one_line() == "timm/resnet18: build failed: --seed -1: seeds run from 0 to 4294967295; copy it again"
    never_raised = Failure.from_exception("timm", "resnet18", "check", ValueError("made, not raised"))
    assert never_raised.message == "made, not raised" and not never_raised.bad_input and never_raised.detail == ""


def test_a_failure_raised_by_a_library_names_it_and_keeps_its_text_apart(tmp_path, monkeypatch):
    import json as stdlib_json

    from zoocheck.records import LIBRARY_LINE_CHARS, Failure

    library = tmp_path / "site-packages" / "fakelib.py"
    library.parent.mkdir()
    library.write_text("def fail(text):\n    raise ValueError(text)\ndef fail_quietly():\n    raise RuntimeError()\n")
    monkeypatch.syspath_prepend(str(library.parent))
    import fakelib

    long = Failure.from_exception("gluon", "resnet18_v1", "export", _raise_in(fakelib.fail, "\x1b[31mshape mismatch\x1b[0m " + "x" * 300))
    assert long.message.startswith("ValueError raised inside fakelib: shape mismatch x") and long.message.endswith(
        "... (--verbose shows all it said)"
    )
    assert len(long.message) < LIBRARY_LINE_CHARS + 80 and "\x1b" not in long.message + long.detail and len(long.detail) > 300
    mxnet_style = 'Traceback (most recent call last):\n  File "x.py", line 1\n    op()\nmxnet.base.MXNetError: [12:00] src/op.cc:42: Check failed: dim == 4'
    said = Failure.from_exception("gluon", "resnet18_v1", "export", _raise_in(fakelib.fail, mxnet_style))
    assert (
        said.message
        == "ValueError raised inside fakelib: mxnet.base.MXNetError: [12:00] src/op.cc:42: Check failed: dim == 4 (--verbose shows all it said)"
    )
    silent = Failure.from_exception("gluon", "resnet18_v1", "export", _raise_in(fakelib.fail_quietly))
    assert silent.message == "RuntimeError raised inside fakelib (its message is in the failure log; --verbose shows it)"
    stdlib = Failure.from_exception("ppcls", "ResNet18", "build", _raise_in(stdlib_json.loads, "{"))
    assert stdlib.message.startswith("JSONDecodeError raised inside the Python standard library: Expecting property name")
    own_script = tmp_path / "my_converter.py"
    own_script.write_text("def fail():\n    raise TypeError('bad layer')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import my_converter

    mine = Failure.from_exception("tiny", "net", "build", _raise_in(my_converter.fail))
    assert mine.message == "TypeError raised inside my_converter.py: bad layer"  # not "the Python standard library"


def _raise_in(function, *args) -> BaseException:
    try:
        function(*args)
    except BaseException as raised:
        return raised
    raise AssertionError(f"{function.__name__} did not raise")


def test_convert_whose_variant_fails_keeps_the_fp32_file_and_says_why(tmp_path, capsys, monkeypatch):
    """`convert --precision fp16` where the converter refuses the graph: exit 1, the failure's one
    line; the fp32 file stands complete, no variant file is left."""

    def refuse(*_args, **_kwargs):
        raise ValueError("the fp16 converter keeps no Resize in this graph")

    monkeypatch.setattr("zoocheck.converters.variants.write_variant", refuse)
    output = tmp_path / "r18.onnx"
    argv = [
        "convert",
        "--src",
        "torchvision",
        "--model",
        "resnet18",
        "--random-weights",
        "--precision",
        "fp16",
        "--output",
        str(output),
        "--results",
        str(tmp_path / "r"),
    ]
    assert main(argv) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "torchvision/resnet18.IMAGENET1K_V1: export failed: " in line and "keeps no Resize" in line and "failures.jsonl" in line
    import onnx

    onnx.checker.check_model(onnx.load(str(output)))
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["r18.onnx", "r18.onnx.json"]


def test_a_table_that_selects_nothing_says_so(tmp_path, capsys):
    assert main(["table", "--arch", "no_such_arch*", "--results", str(tmp_path / "r")]) == 0
    assert "zoocheck: no registry entry or stored result matches" in capsys.readouterr().err


def test_a_sweep_without_fetched_weights_records_how_to_get_them(tmp_path, capsys, monkeypatch):
    """The sweep takes no --weights: each job's failure says to fetch or use --random-weights."""
    monkeypatch.setenv("ZOOCHECK_CACHE", str(tmp_path / "empty-cache"))
    results = tmp_path / "r"
    assert main(["sweep", "--src", "torchvision", "--arch", "resnet18", "--steps", "convert", "--json", "--results", str(results)]) == 1
    [record] = json.loads(capsys.readouterr().out)
    assert record["status"] == "failed" and record["category"] == "weights", record
    assert (
        "zoocheck fetch --src torchvision --model resnet18.IMAGENET1K_V1" in record["message"]
        and "or --random-weights" in record["message"]
    )
    assert "--weights" not in record["message"].replace("--random-weights", "")
    assert not list(results.rglob("*.onnx"))


def test_diff_eval_pairs_two_evaluations_and_refuses_other_images(tmp_path, capsys, photos, torchvision_resnet18_onnx):
    """`diff-eval` of two evaluations `eval` printed: the paired report (exit 0 for the same file
    twice); evaluations of different images are refused in one line (exit 2), nothing stored."""
    data = tmp_path / "val"
    for index, (wnid, photo) in enumerate(zip(("n01440764", "n01443537"), photos[:2], strict=True)):
        (data / wnid).mkdir(parents=True)
        (data / wnid / f"ILSVRC2012_val_{index + 1:08d}{photo.suffix}").write_bytes(photo.read_bytes())
    results = tmp_path / "r"

    def predictions(*options: str) -> str:
        argv = [
            "eval",
            "--onnx",
            str(torchvision_resnet18_onnx),
            "--data",
            str(data),
            "--no-cache",
            "--no-progress",
            "--json",
            "--results",
            str(results),
        ]
        assert main([*argv, *options]) == 0
        return json.loads(capsys.readouterr().out)["predictions"]

    everything, again, first_only = predictions(), predictions("--batch-size", "1"), predictions("--limit", "1")
    assert main(["diff-eval", everything, again, "--results", str(results)]) == 0
    report = capsys.readouterr().out
    assert "PAIRED" in report and "McNemar" in report
    stored = (results / "results.jsonl").read_text()
    assert main(["diff-eval", everything, first_only, "--results", str(results)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert everything in line and first_only in line and "evaluate both with the same --data, --limit and --subsample" in line
    assert (results / "results.jsonl").read_text() == stored
