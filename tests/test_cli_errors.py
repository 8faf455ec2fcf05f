"""Bad usage and bad input: one line naming the problem and the fix, exit 2, nothing written."""

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
        (["eval", "--src", "torchvision", "--model", "resnet18", "--data", "{tmp}", "--no-cache", "--cache-dir", "{tmp}/c"], ("--no-cache", "--cache-dir")),
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


def test_the_table_format_follows_the_output_suffix(tmp_path):
    html = tmp_path / "t.html"
    assert main(["table", "--src", "torchvision", "--arch", "resnet18", "--output", str(html), "--results", str(tmp_path / "r")]) == 0
    assert html.read_text().startswith("<!DOCTYPE html>")
