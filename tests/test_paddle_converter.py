"""PaddleClas converter: real .pdparams / inference-model formats, real photos, PaddleClas's own code.

Weights are random (no network here) but always go through the real files: ``.pdparams`` written by
``paddle.save`` of a state dict, inference models written by ``paddle.jit.save`` (PIR ``.json`` and
legacy ``.pdmodel``), folders and ``*_infer.tar``. PaddleClas's own architecture and preprocessing
code comes from the paddleclas wheel setup.sh installs (``--no-deps``; see paddle_fixtures.py).
The ResNets here are fully convolutional: they run on 64-pixel photos, calibrated at that size.
"""

from __future__ import annotations

import dataclasses
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

paddle = pytest.importorskip("paddle")
pytest.importorskip("paddle2onnx")
ort = pytest.importorskip("onnxruntime")

from conftest import make_entry, random_checkpoint  # noqa: E402
from paddle_fixtures import ARCH_MODULES, PREPROCESS_MODULE, import_paddleclas, paddleclas_root, perturbed_state  # noqa: E402

from zoocheck.checks.images import bundled_photos  # noqa: E402
from zoocheck.checks.library_preprocess import paddleclas_transform  # noqa: E402
from zoocheck.checks.preprocess import preprocess_image  # noqa: E402
from zoocheck.converters import WeightsError, converter_for  # noqa: E402
from zoocheck.converters.paddle import PaddleClasConverter  # noqa: E402
from zoocheck.converters.paddle_arch import scheme_for  # noqa: E402
from zoocheck.converters.paddle_inference import ends_in_softmax, find_inference_files  # noqa: E402
from zoocheck.converters.pipeline import convert  # noqa: E402
from zoocheck.families.resnet.spec import resnet  # noqa: E402
from zoocheck.zoo_registry.names import UnknownName, paddleclas  # noqa: E402
from zoocheck.zoo_registry.sources.ppcls import PPCLS  # noqa: E402
from zoocheck.zoo_registry.types import Architecture, Entry, Preprocess  # noqa: E402

needs_paddleclas = pytest.mark.skipif(paddleclas_root() is None, reason="paddleclas not installed (./setup.sh installs it --no-deps)")


#: the input size of the tests' entries and photos (the 224- and 320-pixel crops: the preprocessing
#: test and the slow Fix_ResNet50_vd_ssld test)
SMALL = 64


def entry(builder: str, input_size: int = SMALL, num_classes: int = 1000) -> Entry:
    """A ppcls entry for PaddleClas model ``builder``, its architecture and naming as the registry
    parses them; other input sizes resize straight to the size (PaddleClas's cv2 rounding)."""
    pre = None if input_size == 224 else dataclasses.replace(PPCLS, resize=input_size, crop=input_size)
    parsed = paddleclas(builder)
    arch = dataclasses.replace(parsed.arch, num_classes=num_classes)
    return make_entry("ppcls", builder, arch, preprocess=pre, input_size=input_size, naming=parsed.naming)


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    paths = bundled_photos()
    if len(paths) < 3:
        pytest.skip("scikit-image's bundled photographs are not installed")
    return np.stack([preprocess_image(p, entry("ResNet18").preprocess) for p in paths[:3]])


def relative_error(reference: np.ndarray, test: np.ndarray) -> np.ndarray:
    """max|diff| / (max - min) of the reference, per row."""
    return np.abs(reference - test).max(axis=1) / (reference.max(axis=1) - reference.min(axis=1))


def assert_onnx_matches(conversion, inputs: np.ndarray) -> np.ndarray:
    assert conversion.ok, conversion.failure
    session = ort.InferenceSession(str(conversion.onnx_path), providers=["CPUExecutionProvider"])
    (image_input,) = session.get_inputs()
    assert image_input.name == "input" and image_input.shape[0] == "N"
    assert session.get_outputs()[0].name == "logits"
    onnx_out = session.run(None, {"input": inputs})[0]
    native = conversion.native_outputs
    assert native.shape == onnx_out.shape == (len(inputs), 1000)
    assert np.isfinite(native).all()
    assert (relative_error(native, onnx_out) < 1e-3).all(), relative_error(native, onnx_out)
    assert (native.argmax(1) == onnx_out.argmax(1)).all()
    return onnx_out


# -- training weights (.pdparams) through the whole pipeline ---------------------------------------

PDPARAMS_CASES = [
    # ResNet18's network through paddle2onnx: test_inference_model_convert; its .pdparams path is ResNet18_vd's
    pytest.param("ResNet18", id="ResNet18", marks=pytest.mark.slow),
    pytest.param("ResNet18_vd", id="ResNet18_vd"),
    pytest.param(
        "ResNet18_vc", id="ResNet18_vc", marks=pytest.mark.slow
    ),  # the vc stem stays in the PaddleClas-code checkpoint cases below
    pytest.param("ResNeXt50_vd_32x4d", id="ResNeXt50_vd_32x4d", marks=pytest.mark.slow),
    pytest.param("ResNet34_vd", id="ResNet34_vd", marks=pytest.mark.slow),
    pytest.param("ResNet50_vc", id="ResNet50_vc", marks=pytest.mark.slow),
    pytest.param("ResNeXt50_32x4d", id="ResNeXt50_32x4d", marks=pytest.mark.slow),
    pytest.param("ResNeXt101_32x8d_wsl", id="ResNeXt101_32x8d_wsl", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("builder", PDPARAMS_CASES)
def test_pdparams_convert_matches_native_on_photos(tmp_path, photos, builder):
    e = entry(builder)
    weights = random_checkpoint(e, tmp_path / f"{builder}_pretrained.pdparams", 7)
    conversion = convert(e, output=tmp_path / "model.onnx", weights=weights, inputs=photos)
    assert_onnx_matches(conversion, photos)
    assert conversion.metadata.output == "logits" and not conversion.outputs_probabilities
    assert conversion.metadata.weights.file == str(weights)
    assert {"paddlepaddle", "paddle2onnx"} <= set(conversion.metadata.versions)


@pytest.mark.slow
def test_fix_resnet50_vd_ssld_exports_320_input(tmp_path):
    e = entry("Fix_ResNet50_vd_ssld", input_size=320)
    inputs = np.stack([preprocess_image(p, e.preprocess) for p in bundled_photos()[:2]])
    weights = random_checkpoint(e, tmp_path / "Fix_ResNet50_vd_ssld_pretrained.pdparams", 1)
    conversion = convert(e, output=tmp_path / "fix.onnx", weights=weights, inputs=inputs)
    assert_onnx_matches(conversion, inputs)
    session = ort.InferenceSession(str(conversion.onnx_path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[1:] == [3, 320, 320]


def test_written_pdparams_is_paddle_save_format(tmp_path):
    e = entry("ResNet18_vd")
    path = random_checkpoint(e, tmp_path / "ResNet18_vd_pretrained.pdparams", 0)
    with open(path, "rb") as fh:
        raw = pickle.load(fh, encoding="latin1")
    # paddle.save(state_dict) stores numpy arrays plus Paddle's structured-name table
    assert "StructuredToParameterName@@" in raw
    assert "stem.0.conv.weight" in raw and "stem.2.bn._variance" in raw and "fc.weight" in raw
    assert raw["fc.weight"].shape == (512, 1000)  # Paddle's Linear stores [in, out]


def test_random_weights_are_seeded_and_non_degenerate(photos):
    e = entry("ResNet18")
    converter = PaddleClasConverter()
    a = converter.load(e, None, random_seed=3).forward(photos)
    b = converter.load(e, None, random_seed=3).forward(photos)
    c = converter.load(e, None, random_seed=4).forward(photos)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert np.isfinite(a).all() and (a.std(axis=1) > 0.1).all()
    assert len(set(a.argmax(1).tolist())) > 1  # different photos, different top-1
    # the one scheme's weights (converters/weights), under PaddleClas's names
    from zoocheck.converters.weights import random_weights
    from zoocheck.families.resnet.layouts import to_paddle

    expected = to_paddle(random_weights(e.arch, 3, e.input_size), e.arch, e.naming)
    state = converter.load(e, None, random_seed=3).network.state_dict()
    assert set(state) == set(expected) and all(np.array_equal(state[k].numpy(), expected[k]) for k in expected)
    variances = np.concatenate([v for k, v in expected.items() if k.endswith("._variance")])
    assert variances.min() > 0 and not np.allclose(variances, 1.0)  # measured, then perturbed


# -- PaddleClas's own architecture code: same names, same function ---------------------------------

# (scheme module, how PaddleClas builds it, zoocheck builder name)
PADDLECLAS_CASES = [
    pytest.param("legendary", lambda m: m.ResNet18(), "ResNet18", id="ResNet18"),
    pytest.param("legendary", lambda m: m.ResNet18_vd(), "ResNet18_vd", id="ResNet18_vd"),
    pytest.param("legendary", lambda m: m.ResNet50_vd(), "ResNet50_vd_ssld", id="ResNet50_vd"),
    pytest.param("vc", lambda m: m.ResNet50_vc(), "ResNet50_vc", id="ResNet50_vc"),
    pytest.param("vc", lambda m: m.ResNet_vc(layers=18), "ResNet18_vc", id="ResNet18_vc"),
    pytest.param("resnext", lambda m: m.ResNeXt50_32x4d(), "ResNeXt50_32x4d", id="ResNeXt50_32x4d"),
    pytest.param("resnext_vd", lambda m: m.ResNeXt50_vd_32x4d(), "ResNeXt50_vd_32x4d", id="ResNeXt50_vd_32x4d"),
    pytest.param("resnext_vd", lambda m: m.ResNeXt50_vd_64x4d(), "ResNeXt50_vd_64x4d", id="ResNeXt50_vd_64x4d", marks=pytest.mark.slow),
    pytest.param("wsl", lambda m: m.ResNeXt101_32x8d_wsl(), "ResNeXt101_32x8d_wsl", id="ResNeXt101_32x8d_wsl", marks=pytest.mark.slow),
    pytest.param("legendary", lambda m: m.ResNet200_vd(), "ResNet200_vd", id="ResNet200_vd", marks=pytest.mark.slow),
]


def _residual_branch_end(key: str) -> bool:
    """The last batch norm of a residual branch (``conv2``), damped so deep ResNets stay calm."""
    return key.count(".") > 1 and ("conv2" in key or "_conv2" in key)


@needs_paddleclas
@pytest.mark.parametrize("module, build, builder", PADDLECLAS_CASES)
def test_checkpoint_written_by_paddleclas_code_matches(tmp_path, photos, module, build, builder):
    import paddle

    paddleclas_module = import_paddleclas(ARCH_MODULES[module])
    with paddle.utils.unique_name.guard():  # model_zoo files name their parameters: one model per guard
        reference = build(paddleclas_module)
    reference.eval()
    reference.set_state_dict(perturbed_state(reference, seed=11, damped=_residual_branch_end))
    path = tmp_path / f"{builder}_pretrained.pdparams"
    paddle.save(reference.state_dict(), str(path))  # exactly how PaddleClas writes its checkpoints

    e = entry(builder)
    native = PaddleClasConverter().load(e, path)
    inputs = photos[:2] if e.arch.structure.depth < 50 else photos[:1]
    with paddle.no_grad():
        expected = reference(paddle.to_tensor(inputs)).numpy()
    got = native.forward(inputs)
    assert np.isfinite(expected).all()
    assert (relative_error(expected, got) < 1e-5).all(), relative_error(expected, got)
    # (the load is strict, so zoocheck's names are PaddleClas's names, no more and no fewer)


# -- inference models ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layout, legacy, softmax",
    [
        pytest.param("dir", False, False, id="dir-json-logits"),
        pytest.param("tar", True, True, id="tar-pdmodel-softmax"),
        pytest.param("dir", True, False, id="dir-pdmodel-logits", marks=pytest.mark.slow),
        pytest.param("tar", False, True, id="tar-json-softmax", marks=pytest.mark.slow),
    ],
)
def test_inference_model_convert(tmp_path, photos, layout, legacy, softmax):
    e = entry("ResNet18")
    pdparams = random_checkpoint(e, tmp_path / "ResNet18_pretrained.pdparams", 5)
    target = tmp_path / ("ResNet18_infer.tar" if layout == "tar" else "ResNet18_infer")
    written = random_checkpoint(e, target, 5, fmt="paddle-inference", softmax=softmax, legacy_format=legacy)
    if layout == "tar":
        with tarfile.open(written) as tar:
            names = tar.getnames()
        program = "inference.pdmodel" if legacy else "inference.json"
        assert f"ResNet18_infer/{program}" in names and "ResNet18_infer/inference.pdiparams" in names
    else:
        program_file, _ = find_inference_files(written)
        assert program_file.suffix == (".pdmodel" if legacy else ".json")
        assert ends_in_softmax(program_file) is softmax

    # in this process: test_pdparams_convert_matches_native_on_photos runs the pipeline's child
    conversion = convert(e, output=tmp_path / "infer.onnx", weights=written, inputs=photos, isolate=False)
    onnx_out = assert_onnx_matches(conversion, photos)
    assert conversion.outputs_probabilities is softmax
    assert conversion.metadata.output == ("probabilities" if softmax else "logits")

    # the inference model computes what the training weights compute (softmax of it, if exported so)
    logits = PaddleClasConverter().load(e, pdparams).forward(photos)
    expected = np.exp(logits - logits.max(1, keepdims=True)) if softmax else logits
    if softmax:
        expected /= expected.sum(1, keepdims=True)
        np.testing.assert_allclose(onnx_out.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(conversion.native_outputs, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_inference_program_file_path_is_accepted(tmp_path, photos):
    e = entry("ResNet18")
    folder = random_checkpoint(e, tmp_path / "infer", 1, fmt="paddle-inference")
    native = PaddleClasConverter().load(e, folder / "inference.json")
    assert native.forward(photos[:1]).shape == (1, 1000)


# -- errors ----------------------------------------------------------------------------------------


def _one_line_naming(exc_info, path: Path) -> str:
    message = str(exc_info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_renamed_parameter_is_a_weights_error_naming_the_file(tmp_path):
    import paddle

    e = entry("ResNet18")
    path = random_checkpoint(e, tmp_path / "ResNet18_pretrained.pdparams", 0)
    state = paddle.load(str(path))
    state["stem.0.conv.weights"] = state.pop("stem.0.conv.weight")
    bad = tmp_path / "renamed.pdparams"
    paddle.save(state, str(bad))
    with pytest.raises(WeightsError) as info:
        PaddleClasConverter().load(e, bad)
    message = _one_line_naming(info, bad)
    assert "missing keys: stem.0.conv.weight" in message and "unexpected keys: stem.0.conv.weights" in message


def test_weights_of_another_model_are_a_weights_error(tmp_path):
    resnet18 = entry("ResNet18")
    path = random_checkpoint(resnet18, tmp_path / "ResNet18_pretrained.pdparams", 0)
    with pytest.raises(WeightsError) as info:  # vd: deep stem, so other names
        PaddleClasConverter().load(entry("ResNet18_vd"), path)
    assert "stem.1.conv.weight" in _one_line_naming(info, path)
    with pytest.raises(WeightsError) as info:  # same names, other class count
        PaddleClasConverter().load(entry("ResNet18", num_classes=10), path)
    assert "fc.weight (512, 1000) in file vs (512, 10) in model" in _one_line_naming(info, path)


@pytest.mark.parametrize("content", [b"not a checkpoint at all\n", b"", pickle.dumps([1, 2, 3])], ids=["text", "empty", "pickled-list"])
def test_a_file_that_is_not_pdparams_is_a_clear_error(tmp_path, content):
    bad = tmp_path / "ResNet18_pretrained.pdparams"
    bad.write_bytes(content)
    with pytest.raises(WeightsError) as info:
        PaddleClasConverter().load(entry("ResNet18"), bad)
    assert "pdparams" in _one_line_naming(info, bad)


def test_folder_without_inference_model_is_a_weights_error(tmp_path):
    (tmp_path / "README.txt").write_text("nothing here")
    with pytest.raises(WeightsError) as info:
        PaddleClasConverter().load(entry("ResNet18"), tmp_path)
    assert "inference.pdiparams" in _one_line_naming(info, tmp_path)


def test_tar_without_inference_model_is_a_weights_error_naming_the_tar(tmp_path):
    (tmp_path / "ResNet18_infer").mkdir()
    (tmp_path / "ResNet18_infer" / "inference.yml").write_text("PreProcess: {}\n")
    tar_path = tmp_path / "ResNet18_infer.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(tmp_path / "ResNet18_infer", arcname="ResNet18_infer")
    with pytest.raises(WeightsError) as info:
        PaddleClasConverter().load(entry("ResNet18"), tar_path)
    assert "no Paddle inference model" in _one_line_naming(info, tar_path)


def test_pipeline_turns_bad_weights_into_a_failure(tmp_path):
    bad = tmp_path / "ResNet18_pretrained.pdparams"
    bad.write_bytes(b"garbage")
    conversion = convert(entry("ResNet18"), output=tmp_path / "x.onnx", weights=bad, isolate=False)
    assert not conversion.ok and conversion.failure.exception_type == "WeightsError"
    assert str(bad) in conversion.failure.message
    assert not (tmp_path / "x.onnx").exists()


def test_network_to_be_loaded_is_built_without_random_draws(photos):
    """A network whose parameters are all set next starts them as zeros (Paddle's random draws
    skipped), computes what a randomly initialised one does once both are loaded, and leaves
    Paddle's initialisation as it was for the networks built after it."""
    from zoocheck.converters.paddle import build_model, load_state

    e = entry("ResNet18")
    zeros, drawn = build_model(e, set_next=True), build_model(e)
    assert all(not p.numpy().any() for p in zeros.parameters() if p.name.endswith(".w_0"))
    assert all(p.numpy().any() for p in drawn.parameters() if len(p.shape) == 4)
    state = {k: np.asarray(v.numpy()) + np.float32(0.01) for k, v in build_model(e).state_dict().items()}
    for network in (zeros, drawn):
        load_state(network, state, origin="test", builder=e.builder)
    batch = paddle.to_tensor(photos[:2])
    assert np.array_equal(zeros(batch).numpy(), drawn(batch).numpy())


def test_fp64_forward_in_its_thread_equals_the_in_place_one(tmp_path, photos):
    """The float64 forward on the network's float64 copy, run beside the float32 forward, gives
    the same bits as the network cast in place, and leaves the network in float32."""
    e = entry("ResNet18")
    native = PaddleClasConverter().load(e, random_checkpoint(e, tmp_path / "ResNet18_pretrained.pdparams", 7))
    batch = photos[:3]
    waiting = native.start_forward_fp64(batch)
    fp32 = native.forward(batch)
    beside = waiting()
    assert beside.dtype == np.float64 and np.array_equal(beside, native.forward_fp64(batch))
    assert np.array_equal(native.forward(batch), fp32) and 0 < np.abs(beside - fp32).max() < 1e-3 * np.ptp(beside)


def test_paddle2onnx_failure_is_a_runtime_error_not_an_exit(tmp_path):
    """paddle2onnx logs a conversion error and calls sys.exit(-1): zoocheck raises RuntimeError."""
    from zoocheck.converters.paddle_export import export_program

    program, params = tmp_path / "inference.json", tmp_path / "inference.pdiparams"
    program.write_text('{"not": "a program"}')
    params.write_bytes(b"\0" * 64)
    with pytest.raises(RuntimeError, match="paddle2onnx could not convert"):
        export_program(program, params, tmp_path / "out.onnx", 17)


def test_paddle2onnxs_constant_folding_does_not_import_torch():
    """Polygraphy's folding inside paddle2onnx imports onnxruntime.tools, whose __init__ imports
    torch: registered without it, in a fresh process, and its PyTorch helper is still there."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from zoocheck.converters.paddle_export import _onnxruntime_tools_without_torch\n"
        "_onnxruntime_tools_without_torch()\n"
        "import onnxruntime.tools\n"
        "from onnxruntime.tools import symbolic_shape_infer\n"
        "assert callable(onnxruntime.tools.infer_input_info) and onnxruntime.tools.have_torch\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[1], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "False"), done.stderr


def test_paddle2onnx_failure_beside_the_fp64_forward_is_the_models_failure(tmp_path, photos, monkeypatch):
    """The export fails while the float64 forward runs in its thread: one failure record at the
    export stage, and this process goes on."""
    import paddle2onnx.convert

    def fail(*args, **kwargs):
        raise ValueError("an operator paddle2onnx cannot map")

    monkeypatch.setattr(paddle2onnx.convert.c_p2o, "export", fail)
    e = entry("ResNet18")
    weights = random_checkpoint(e, tmp_path / "ResNet18_pretrained.pdparams", 7)
    conversion = convert(e, output=tmp_path / "x.onnx", weights=weights, inputs=photos[:2], isolate=False)
    assert not conversion.ok and conversion.failure.stage == "export"
    assert conversion.failure.exception_type == "RuntimeError" and "paddle2onnx could not convert" in conversion.failure.message
    assert not (tmp_path / "x.onnx").exists()


def test_builder_names_pick_paddleclas_naming_schemes():
    assert paddleclas("ResNet50").naming == "legendary"
    assert paddleclas("ResNet50_vd_ssld").naming == "legendary_vd"
    assert paddleclas("Fix_ResNet50_vd_ssld").naming == "legendary_vd"
    assert paddleclas("ResNet200_vd").naming == "legendary_vd"
    assert paddleclas("ResNet50_vc").naming == "vc"
    assert paddleclas("ResNeXt152_64x4d").naming == "resnext"
    assert paddleclas("resnext101_vd_32x4d").naming == "resnext_vd"
    assert paddleclas("ResNeXt101_32x48d_wsl").naming == "wsl"
    assert paddleclas("Fix_ResNeXt101_32x48d_wsl").naming == "wsl"
    with pytest.raises(UnknownName):
        paddleclas("MobileNetV3_large_x1_0")
    with pytest.raises(ValueError, match="variant"):
        scheme_for(paddleclas("ResNet50").arch, "legendary_vd")
    with pytest.raises(ValueError, match="project stage 1"):  # torchvision's resnet18 is not PaddleClas's
        scheme_for(Architecture(resnet(18)), "legendary")


@needs_paddleclas
def test_paddleclas_resnet18_projects_stage_one_where_torchvision_does_not():
    """PaddleClas's own ResNet18/34 (legendary and vc) hold a 1x1 projection in stage 1's first
    block, so they are their own architecture, not torchvision's resnet18."""
    import paddle

    for module, build in (("legendary", lambda m: m.ResNet18()), ("vc", lambda m: m.ResNet_vc(layers=18))):
        with paddle.utils.unique_name.guard():
            state = build(import_paddleclas(ARCH_MODULES[module])).state_dict()
        short = {
            k: tuple(v.shape)
            for k, v in state.items()
            if k.startswith(("blocks.0.short.", "bb_0_0.short.")) and k.endswith("weight") and len(v.shape) == 4
        }
        assert list(short.values()) == [(64, 64, 1, 1)], short
    assert paddleclas("ResNet18").arch.id == "resnet18_proj" and paddleclas("ResNet34_vd").arch.id == "resnet34_d_proj"
    assert paddleclas("ResNet50").arch.id == "resnet50"  # a bottleneck stage 1 projects anyway


def test_converter_is_registered_for_ppcls():
    converter = converter_for("ppcls")
    assert isinstance(converter, PaddleClasConverter) and converter.source.extras == ("paddle",)
    converter.check_available()


# -- preprocessing: zoocheck's spec vs PaddleClas's own operators -----------------------------------


@needs_paddleclas
@pytest.mark.parametrize("resize, crop", [(256, 224), (352, 320)])
def test_preprocessing_matches_paddleclas_operators(resize, crop):
    spec = Preprocess(resize, crop, image_library="cv2", antialias=False, size_rounding="round", crop_rounding="floor")
    photos = bundled_photos()
    if not photos:
        pytest.skip("scikit-image's bundled photographs are not installed")
    spec_entry = make_entry("ppcls", "spec", paddleclas("ResNet50_vd").arch, "ResNet50_vd", preprocess=spec, naming="legendary_vd")
    transform = paddleclas_transform(spec_entry, import_paddleclas(PREPROCESS_MODULE))
    for path in photos:
        expected = transform.apply(path)
        got = preprocess_image(path, spec)
        assert got.shape == expected.shape == (3, crop, crop)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6, err_msg=str(path))
