"""Issue 23, options: an option that only means something beside another (--seed beside
--random-weights, the Ray options beside --executor ray) is refused without it, before any work,
instead of being silently ignored; sweep selects its entries with the one selector."""

from __future__ import annotations

import pytest

from zoocheck.cli import main

SEED_WITHOUT_RANDOM = {
    "convert": ["convert", "--src", "torchvision", "--model", "resnet18"],
    "parity": ["parity", "--src", "torchvision", "--model", "resnet18"],
    "parity-onnx": ["parity", "--src", "torchvision", "--model", "resnet18", "--onnx", "{tmp}/model.onnx"],
    "eval": ["eval", "--src", "torchvision", "--model", "resnet18", "--data", "{tmp}/val"],
    "eval-onnx": ["eval", "--onnx", "{tmp}/model.onnx", "--data", "{tmp}/val"],
    "compare": ["compare", "torchvision:resnet18", "timm:resnet18.tv_in1k"],
    "sweep": ["sweep", "--src", "torchvision", "--model", "resnet18"],
}


@pytest.mark.parametrize("argv", SEED_WITHOUT_RANDOM.values(), ids=SEED_WITHOUT_RANDOM)
def test_a_seed_without_random_weights_is_refused_by_every_command(tmp_path, capsys, argv):
    results = tmp_path / "results"
    assert main([*(a.format(tmp=tmp_path) for a in argv), "--seed", "3", "--results", str(results)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == ["zoocheck: error: --seed 3 seeds --random-weights: add --random-weights, or leave --seed out"]
    assert not results.exists()


def test_random_weights_without_a_seed_use_seed_0(tmp_path, capsys):
    from zoocheck.checks.runs import default_onnx_path
    from zoocheck.store import ResultsStore
    from zoocheck.zoo_registry import get_entry

    store = ResultsStore(tmp_path)
    entry = get_entry("torchvision", "resnet18")
    default_onnx_path(store, entry, 0).parent.mkdir(parents=True)
    default_onnx_path(store, entry, 0).write_text("not a model")  # refused before any conversion: names the seed-0 path
    assert main(["convert", "--src", "torchvision", "--model", "resnet18", "--random-weights", "--results", str(tmp_path)]) == 2
    assert str(default_onnx_path(store, entry, 0)) in capsys.readouterr().err


@pytest.mark.parametrize(
    "options,named",
    [
        (["--ray-address", "127.0.0.1:6379"], "--ray-address"),
        (["--cpus-per-job", "2"], "--cpus-per-job"),
        (["--eval-shards", "4", "--executor", "local"], "--eval-shards"),
        (["--cpus-per-job", "2", "--eval-shards", "4"], "--cpus-per-job, --eval-shards"),
    ],
)
def test_ray_options_without_the_ray_executor_are_refused(tmp_path, capsys, monkeypatch, options, named):
    from zoocheck.sweep import driver

    monkeypatch.setattr(driver, "run_sweep", lambda *_, **__: pytest.fail("the sweep started work with an option it ignores"))
    assert (
        main(["sweep", "--src", "torchvision", "--model", "resnet18", "--random-weights", "--results", str(tmp_path / "results"), *options])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [
        f"zoocheck: error: {named}: Ray options, used only with --executor ray; add --executor ray or leave them out"
    ]
    assert not (tmp_path / "results").exists()


def test_sweep_selects_with_the_one_selector():
    """Source aliases in 'source/name', the order given, and (as every other command) a name that
    selects nothing is an error naming the closest entries instead of being dropped."""
    from zoocheck.cli.common import UsageError
    from zoocheck.cli.sweep import selected_entries

    keys = lambda entries: [e.key for e in entries]  # noqa: E731
    assert keys(selected_entries(None, None, ["paddleclas/ResNet18", "torchvision/resnet18"])) == [
        "ppcls/ResNet18",
        "torchvision/resnet18.IMAGENET1K_V1",
    ]
    assert keys(selected_entries(["timm", "ppcls"], "resnet18_proj", ["resnet18*"])) == ["ppcls/ResNet18"]
    with pytest.raises(UsageError, match="unknown model 'resnet19' for source 'torchvision'; closest: resnet18"):
        selected_entries(["torchvision"], None, ["resnet18", "resnet19"])
    with pytest.raises(UsageError, match="unknown source 'caffe'"):
        selected_entries(["caffe"], None, None)
    with pytest.raises(UsageError, match="no registry entry matches the selection"):
        selected_entries(["torchvision"], "no-such-arch*", None)
