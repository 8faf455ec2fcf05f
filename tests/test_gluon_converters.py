"""MXNet Gluon, GluonCV and ONNX-model-zoo sources: weights in their real on-disk formats go
through the real loading path, the native forward is checked against an independent one, and the
exported ONNX against the native forward. Random weights, resnet18-sized, few inputs of 64
pixels: these networks are fully convolutional, so no check here depends on the size."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from zoocheck.converters.base import FrameworkUnavailable, WeightsError
from zoocheck.converters.mxnet_compat import import_mxnet
from zoocheck.zoo_registry import get_entry, list_entries
from zoocheck.zoo_registry.names import gluon_style
from zoocheck.zoo_registry.sources.gluon import GLUON
from zoocheck.zoo_registry.types import Entry

try:
    mx = import_mxnet()
except FrameworkUnavailable as exc:  # pragma: no cover - the project environment has mxnet
    pytest.skip(str(exc), allow_module_level=True)

import crash_converter  # noqa: E402
import gluon_fixtures  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from conftest import assert_conventions, assert_not_degenerate, at_size, inputs_for, make_entry, random_checkpoint  # noqa: E402

from zoocheck.checks.cross_source import cross_check_reference, cross_source_parity  # noqa: E402
from zoocheck.checks.images import bundled_photos  # noqa: E402
from zoocheck.checks.parity import check_parity  # noqa: E402
from zoocheck.converters import gluon, gluoncv, mxnet_params, onnx_zoo  # noqa: E402
from zoocheck.converters.pipeline import convert  # noqa: E402
from zoocheck.converters.torch_common import timm_network  # noqa: E402
from zoocheck.reports.lines import parity_line  # noqa: E402

SEED = 7
SMALL = 64  # the input size of every entry here


def rel_err(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / (a.max() - a.min()))


def inputs(count=2, size=SMALL, seed=3):
    return np.random.default_rng(seed).standard_normal((count, 3, size, size), dtype=np.float32)


def gluon_entry(builder: str) -> Entry:
    """An entry of MXNet Gluon / GluonCV name ``builder`` as the registry parses it, at SMALL."""
    parsed = gluon_style(builder)
    return at_size(make_entry("gluon", builder, parsed.arch, naming=parsed.naming), SMALL)


def gluoncv_entry(builder: str) -> Entry:
    return dataclasses.replace(gluon_entry(builder), source="gluoncv")


def zoo_entry(builder: str) -> Entry:
    """The ONNX zoo's file of Gluon's ``builder``, exported from it (by MXNet) as the registry records."""
    depth, version = builder[len("resnet") : builder.index("_")], builder[-2:]
    registered = get_entry("onnx-zoo", f"resnet{depth}-{version}-7")
    entry = make_entry(
        "onnx-zoo",
        registered.name,
        gluon_style(builder).arch,
        builder,
        preprocess=GLUON,
        exported_from=registered.exported_from,
        naming=registered.naming,
    )
    return at_size(entry, SMALL)


def onnx_io(path):
    model = onnx.load(str(path))
    inp, out = model.graph.input[0], model.graph.output[0]
    return model, inp.name, inp.type.tensor_type.shape.dim[0], out.name


# ---------------------------------------------------------------------------------------------
# gluon


@pytest.fixture(scope="module")
def gluon_files(tmp_path_factory):
    """resnet18_v1 seeded random weights in both MXNet formats, and the network that wrote them."""
    root = tmp_path_factory.mktemp("gluon")
    params = random_checkpoint(gluon_entry("resnet18_v1"), root / "resnet18_v1.params", SEED)
    pair = random_checkpoint(gluon_entry("resnet18_v1"), root / "export", SEED)
    net = gluon.build(gluon_entry("resnet18_v1").arch)
    net.load_parameters(str(params))
    return params, pair, net


def test_gluon_save_parameters_file_loads_the_weights_written(gluon_files):
    params, _, net = gluon_files
    assert not any(k.startswith(("arg:", "aux:")) for k in mx.nd.load(str(params)))
    native = gluon.GluonConverter().load(gluon_entry("resnet18_v1"), params)
    x = inputs()
    assert np.array_equal(native.forward(x), gluon_fixtures.mxnet_forward(net, x))


@pytest.mark.parametrize("which", ["directory", "symbol", "params"])
def test_gluon_export_pair_loads_from_either_file_or_the_directory(gluon_files, which):
    params, pair, net = gluon_files
    path = {"directory": pair, "symbol": pair / "resnet18_v1-symbol.json", "params": pair / "resnet18_v1-0000.params"}[which]
    native = gluon.GluonConverter().load(gluon_entry("resnet18_v1"), path)
    x = inputs()
    assert rel_err(gluon_fixtures.mxnet_forward(net, x), native.forward(x)) < 1e-5


def test_gluon_weights_that_do_not_fit_raise_weights_error(gluon_files, tmp_path):
    params, pair, _ = gluon_files
    converter = gluon.GluonConverter()
    with pytest.raises(WeightsError, match="resnet34_v1"):
        converter.load(gluon_entry("resnet34_v1"), params)
    with pytest.raises(WeightsError, match="not those of resnet18_v2"):
        converter.load(gluon_entry("resnet18_v2"), pair)
    lone = tmp_path / "lone-0000.params"
    lone.write_bytes((pair / "resnet18_v1-0000.params").read_bytes())
    with pytest.raises(WeightsError, match="symbol.json"):
        converter.load(gluon_entry("resnet18_v1"), lone)
    junk = tmp_path / "junk.params"
    junk.write_bytes(b"not mxnet")
    with pytest.raises(WeightsError, match="not an MXNet"):
        converter.load(gluon_entry("resnet18_v1"), junk)


# resnet18_v2 through mxnet.onnx in the default run: the zoo_file fixture, test_onnx_zoo_conversion_upgrades_and_normalises
@pytest.mark.parametrize("builder", ["resnet18_v1", pytest.param("resnet18_v2", marks=pytest.mark.slow)])
def test_gluon_conversion_parity_and_conventions(builder, tmp_path):
    """mxnet.onnx export at opset 17 with dynamic batch, through the isolated pipeline."""
    entry = gluon_entry(builder)
    weights = random_checkpoint(gluon_entry(builder), tmp_path / f"{builder}.params", SEED)
    result, conversion = check_parity(entry, weights=weights, random_seed=None, output=tmp_path / f"{builder}.onnx", images=[])
    assert result.status == "ok", parity_line(result)
    assert conversion.metadata.versions["mxnet"] == "1.9.1"
    assert_conventions(conversion.onnx_path)
    sess = ort.InferenceSession(str(conversion.onnx_path), providers=["CPUExecutionProvider"])
    x = inputs(3, seed=11)
    native = gluon.GluonConverter().load(entry, weights)
    assert rel_err(native.forward(x), sess.run(None, {"input": x})[0]) < 1e-5


def test_gluon_random_weights_are_seeded_and_not_degenerate():
    entry = gluon_entry("resnet18_v2")
    x = inputs_for(entry)
    a = gluon.GluonConverter().load(entry, None, random_seed=1).forward(x)
    b = gluon.GluonConverter().load(entry, None, random_seed=1).forward(x)
    c = gluon.GluonConverter().load(entry, None, random_seed=2).forward(x)
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert_not_degenerate(a, len(bundled_photos()))


def test_mxnet_onnx_opsets():
    """mxnet.onnx translates with its opset-12/13 rules; older opsets are refused, not mislabelled."""
    native = gluon.GluonConverter().load(gluon_entry("resnet18_v1"), None, random_seed=0)
    with pytest.raises(ValueError, match="opsets 12"):
        native.export_onnx("unused.onnx", 11)


# ---------------------------------------------------------------------------------------------
# gluoncv

GLUONCV_BUILDERS = ["resnet18_v1b", "resnet50_v1c", "resnet50_v1d", "resnet50_v1s", "resnext50_32x4d"]


@pytest.mark.parametrize("builder", GLUONCV_BUILDERS)
def test_gluoncv_checkpoint_from_gluoncv_code_matches_its_mxnet_forward(builder, tmp_path):
    """A checkpoint saved by GluonCV's own network code: every parameter is consumed, every timm
    parameter filled, and the timm forward equals GluonCV's MXNet forward."""
    path = tmp_path / f"{builder}.params"
    e = gluoncv_entry(builder)
    net = gluon_fixtures.write_gluoncv_checkpoint(e, path, SEED)
    arrays = mxnet_params.read_mxnet_params(path)
    mapped = gluoncv.map_state(arrays, e.naming, path.name)
    expected = {k: tuple(v.shape) for k, v in timm_network(e.arch).state_dict().items() if not k.endswith("num_batches_tracked")}
    assert {k: tuple(v.shape) for k, v in mapped.items()} == expected
    native = gluoncv.GluonCVConverter().load(gluoncv_entry(builder), path)
    x = inputs()
    assert rel_err(gluon_fixtures.mxnet_forward(net, x), native.forward(x)) < 1e-5


def test_mxnet_params_reader_and_writer_match_mxnet(tmp_path):
    arrays = {
        "a.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b.gamma": np.array([1.5], np.float16),
        "c": np.ones((2, 1, 3, 3), np.float64),
    }
    ours, theirs = tmp_path / "ours.params", tmp_path / "theirs.params"
    mxnet_params.write_mxnet_params(ours, arrays)
    mx.nd.save(str(theirs), {k: mx.nd.array(v, dtype=v.dtype) for k, v in arrays.items()})
    assert ours.read_bytes() == theirs.read_bytes()
    back = mxnet_params.read_mxnet_params(theirs)
    assert list(back) == list(arrays) and all(np.array_equal(back[k], v) and back[k].dtype == v.dtype for k, v in arrays.items())


def test_gluoncv_written_checkpoint_round_trips_and_mismatch_raises(tmp_path):
    path = random_checkpoint(gluoncv_entry("resnet50_v1d"), tmp_path / "resnet50_v1d.params", SEED)
    names = set(mxnet_params.read_mxnet_params(path))
    assert {
        "conv1.0.weight",
        "conv1.1.gamma",
        "conv1.6.weight",
        "layer1.0.downsample.1.weight",
        "layer2.0.downsample.2.running_var",
        "fc.bias",
    } <= names
    with pytest.raises(WeightsError, match="do not fit"):
        gluoncv.GluonCVConverter().load(gluoncv_entry("resnet50_v1c"), path)  # v1c has no avg-pool shortcut
    with pytest.raises(WeightsError, match="not an MXNet"):
        junk = tmp_path / "junk.params"
        junk.write_bytes(b"\x00" * 64)
        gluoncv.GluonCVConverter().load(gluoncv_entry("resnet50_v1c"), junk)


def test_gluoncv_v1s_is_timm_network_s_with_gluoncv_stem_names(tmp_path):
    spec = gluoncv_entry("resnet101_v1s").arch.structure
    assert (spec.stem, spec.stem_channels, spec.shortcut, spec.variant) == ("deep_wide", 128, "conv", "s")
    model = timm_network(gluoncv_entry("resnet50_v1s").arch)
    assert model.conv1[0].out_channels == 64 and model.conv1[6].out_channels == 128  # timm resnet50s
    path = tmp_path / "resnet50_v1s.params"
    gluon_fixtures.write_gluoncv_checkpoint(gluoncv_entry("resnet50_v1s"), path, SEED)
    with pytest.raises(WeightsError, match="do not fit"):  # v1c's 32-wide stem is not v1s's
        gluoncv.GluonCVConverter().load(gluoncv_entry("resnet50_v1c"), path)


@pytest.mark.parametrize("builder", ["resnet18_v1", "resnet18_v2"])
def test_gluoncv_v1_v2_files_load_through_the_gluon_converter(builder, tmp_path):
    """GluonCV's resnetNN_v1/v2 are MXNet Gluon's model-zoo classes (gluoncv/model_zoo/resnet.py
    differs only in options these models leave off), so a file written by that network is a
    GluonCV file; the gluoncv source hands it to MXNet and runs MXNet's forward on it."""
    from zoocheck.zoo_registry import get_entry

    entry = get_entry("gluoncv", builder)
    path = random_checkpoint(gluon_entry(builder), tmp_path / f"{builder}.params", SEED)
    net = gluon.build(gluon_entry(builder).arch)
    net.load_parameters(str(path), ctx=mx.cpu())
    native = gluoncv.GluonCVConverter().load(entry, path)
    assert isinstance(native, gluon.GluonNative) and native.versions["mxnet"] == "1.9.1"
    x = inputs()
    assert np.array_equal(native.forward(x), gluon_fixtures.mxnet_forward(net, x))
    with pytest.raises(WeightsError, match="do not fit"):
        gluoncv.GluonCVConverter().load(get_entry("gluoncv", "resnet34_v1" if builder.endswith("v1") else "resnet34_v2"), path)


# the pipeline tests below run in this process: the isolated child is test_gluon_conversion_parity_and_conventions's,
# the cross-source tests' and the crash tests'
def test_gluoncv_v1_conversion_through_the_pipeline(tmp_path):
    from zoocheck.zoo_registry import get_entry

    entry = at_size(get_entry("gluoncv", "resnet18_v1"), SMALL)
    weights = random_checkpoint(gluon_entry("resnet18_v1"), tmp_path / "resnet18_v1.params", SEED)
    result, conversion = check_parity(entry, weights=weights, random_seed=None, output=tmp_path / "r18v1.onnx", images=[], isolate=False)
    assert result.status == "ok", parity_line(result)
    assert conversion.metadata.source == "gluoncv" and "mxnet" in conversion.metadata.versions
    assert_conventions(conversion.onnx_path)


def test_gluoncv_conversion_parity_and_conventions(tmp_path):
    entry = gluoncv_entry("resnet18_v1b")
    weights = tmp_path / "w.params"
    gluon_fixtures.write_gluoncv_checkpoint(entry, weights, SEED)
    result, conversion = check_parity(entry, weights=weights, random_seed=None, output=tmp_path / "r18b.onnx", images=[], isolate=False)
    assert result.status == "ok", parity_line(result)
    assert_conventions(conversion.onnx_path)


# ---------------------------------------------------------------------------------------------
# onnx-zoo


@pytest.fixture(scope="module", params=["resnet18_v1", "resnet18_v2"])
def zoo_file(request, tmp_path_factory):
    """A zoo-like file (mxnet export, opset 7, input 'data', batch 1) and the Gluon weights in it."""
    builder = request.param
    root = tmp_path_factory.mktemp(builder)
    params = random_checkpoint(gluon_entry(builder), root / f"{builder}.params", SEED)
    net = gluon.build(gluon_entry(builder).arch)
    net.load_parameters(str(params))
    path = onnx_zoo.write_zoo_like(net, root / f"{builder}.onnx", SMALL)
    return builder, path, params, net


def test_zoo_like_file_looks_like_the_zoo(zoo_file):
    _, path, _, _ = zoo_file
    model, inp, batch_dim, _ = onnx_io(path)
    assert (model.opset_import[0].version, model.ir_version, inp, batch_dim.dim_value) == (7, 3, "data", 1)
    assert {t.name for t in model.graph.initializer} <= {i.name for i in model.graph.input}


def test_onnx_zoo_native_forward_is_the_original_file_and_matches_gluon(zoo_file):
    builder, path, _, net = zoo_file
    native = onnx_zoo.OnnxZooConverter().load(zoo_entry(builder), path)
    x = inputs(3)  # batch 3 through a batch-1 file: fed one by one
    assert native.path == path
    assert rel_err(gluon_fixtures.mxnet_forward(net, x), native.forward(x)) < 1e-5


def test_onnx_zoo_conversion_upgrades_and_normalises(zoo_file, tmp_path):
    """The pipeline (in this process: the cross-source tests run it isolated) upgrades the zoo's
    file and writes zoocheck's conventions."""
    builder, path, _, _ = zoo_file
    result, conversion = check_parity(
        zoo_entry(builder), weights=path, random_seed=None, output=tmp_path / "zoo.onnx", images=[], isolate=False
    )
    assert result.status == "ok", parity_line(result)
    assert_conventions(conversion.onnx_path)
    assert onnx.load(str(conversion.onnx_path)).ir_version >= 8
    sess = ort.InferenceSession(str(conversion.onnx_path), providers=["CPUExecutionProvider"])
    assert sess.run(None, {"input": inputs(3)})[0].shape == (3, 1000)


@pytest.mark.parametrize("zoo_file", ["resnet18_v1", pytest.param("resnet18_v2", marks=pytest.mark.slow)], indirect=True)
def test_onnx_zoo_from_tar_and_directory(zoo_file, tmp_path):
    """Finding the file in an archive or a folder does not depend on the network: resnet18_v1's
    in the default run."""
    import tarfile

    builder, path, _, _ = zoo_file
    archive = tmp_path / "zoo.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(path, arcname=f"{builder}/model.onnx")
    x = inputs(1)
    expected = onnx_zoo.OnnxZooConverter().load(zoo_entry(builder), path).forward(x)
    assert np.array_equal(onnx_zoo.OnnxZooConverter().load(zoo_entry(builder), archive).forward(x), expected)
    assert np.array_equal(onnx_zoo.OnnxZooConverter().load(zoo_entry(builder), path.parent).forward(x), expected)
    with pytest.raises(WeightsError, match="not an ONNX"):
        bad = tmp_path / "bad.onnx"
        bad.write_bytes(b"\xff\xff garbage")
        onnx_zoo.OnnxZooConverter().load(zoo_entry(builder), bad)


def test_cross_source_gluon_vs_onnx_zoo(zoo_file):
    builder, path, params, _ = zoo_file
    # the pairing is data: relations.csv records the zoo file as exported from the Gluon model
    published = next(e for e in list_entries("onnx-zoo") if e.builder == builder)
    assert cross_check_reference(published, list_entries("gluon")) == get_entry("gluon", builder)
    result = cross_source_parity(zoo_entry(builder), gluon_entry(builder), weights=path, reference_weights=params, images=[])
    assert (result.status, result.reference, result.test) == ("ok", "gluon", "onnx-zoo"), parity_line(result)


# one architecture is enough for the random-weights path (it starts 4 isolated children)
@pytest.mark.parametrize("zoo_file", ["resnet18_v1"], indirect=True)
def test_cross_source_random_weights_agree_and_different_weights_do_not(zoo_file, tmp_path):
    builder, path, _, _ = zoo_file
    same = cross_source_parity(zoo_entry(builder), gluon_entry(builder), weights=None, reference_weights=None, random_seed=5, images=[])
    assert same.status == "ok" and same.random_weights, parity_line(same)
    other = random_checkpoint(gluon_entry(builder), tmp_path / "other.params", SEED + 1)
    differ = cross_source_parity(zoo_entry(builder), gluon_entry(builder), weights=path, reference_weights=other, images=[])
    assert differ.status == "failed", parity_line(differ)


# ---------------------------------------------------------------------------------------------
# crash isolation


@pytest.fixture
def crash_source(registered_source):
    registered_source(crash_converter.SOURCE)

    def entry(kind: str) -> Entry:
        return make_entry(crash_converter.SOURCE.name, f"crash-{kind}", builder=kind)

    return entry


@pytest.mark.parametrize("kind, signal_name", [("abort", "SIGABRT"), ("segfault", "SIGSEGV"), ("kill", "SIGKILL")])
def test_crash_in_converter_child_becomes_failure_and_run_continues(crash_source, kind, signal_name, tmp_path):
    conversion = convert(crash_source(kind), output=tmp_path / "crash.onnx", random_seed=0)
    failure = conversion.failure
    assert failure is not None and failure.stage == "build"
    assert signal_name in failure.message
    assert failure.exception_type == ("ProcessKilled" if kind == "kill" else "ProcessCrash")
    if kind == "kill":
        assert "out of memory" in failure.message
    assert not (tmp_path / "crash.onnx").exists()
    if kind != "abort":
        return
    # The parent is unharmed: the next model converts.
    after = convert(gluon_entry("resnet18_v1"), output=tmp_path / "next.onnx", random_seed=0)
    assert after.ok, after.failure and after.failure.one_line()
    assert_conventions(after.onnx_path)
