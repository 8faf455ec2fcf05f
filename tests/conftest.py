"""What the test modules share: entries, photographs, ONNX convention and parity assertions, and
test-only sources registered through the public descriptor.

Plain helpers are imported by name (``from conftest import assert_same``); fixtures are used as
arguments. Preprocessing presets are the registry's own (``zoo_registry/sources/*``), never
declared again here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

# Parallel test workers share the cores: each gets its share of threads (onnxruntime's, torch's,
# BLAS's), set before numpy loads BLAS. Oversubscribed thread pools spin-wait: a third more CPU
# for the same tests on 2 cores and 2 workers.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, len(os.sched_getaffinity(0)) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))

import numpy as np
import pytest

from zoocheck.checks.images import bundled_photos, random_inputs
from zoocheck.checks.preprocess import preprocess_image
from zoocheck.converters.onnx_runtime import run_first_output, session
from zoocheck.families.resnet.spec import resnet
from zoocheck.sources import Source, register_source, unregister_source
from zoocheck.zoo_registry.sources.gluon import GLUON
from zoocheck.zoo_registry.sources.mmpretrain import MMPRETRAIN_CV2
from zoocheck.zoo_registry.sources.onnx_zoo import ONNX_ZOO
from zoocheck.zoo_registry.sources.ppcls import PPCLS
from zoocheck.zoo_registry.sources.torchvision import TORCHVISION_V1
from zoocheck.zoo_registry.types import Architecture, Entry, Preprocess

# Converter children of the torch, PaddleClas, MXNet and ONNX-zoo sources are forked from one
# process per group and test worker that imported the group once (``converters/child.py``, warm
# children): 4-8 s saved per torch child, 3-5 s per MXNet one, 1-2 s per Paddle one.
# test_warm_children runs fresh and warm children side by side.
os.environ.setdefault(
    "ZOOCHECK_PRELOAD", "torch,torchvision,timm,onnx,onnxslim;paddle,paddle2onnx,onnx,onnxslim;mxnet,onnx,onnxruntime,onnxslim"
)

# ---------------------------------------------------------------------------------------------
# entries

#: each source's usual evaluation preprocessing (the registry's presets)
PREPROCESS = {
    "torchvision": TORCHVISION_V1,
    "timm": TORCHVISION_V1,
    "mmpretrain": MMPRETRAIN_CV2,
    "ppcls": PPCLS,
    "gluon": GLUON,
    "gluoncv": GLUON,
    "onnx-zoo": ONNX_ZOO,
}


def make_entry(
    source: str,
    name: str,
    arch: Architecture = Architecture(resnet(18)),
    builder: str | None = None,
    preprocess: Preprocess | None = None,
    **fields,
) -> Entry:
    """A registry entry for a test: ``builder`` defaults to ``name``, the preprocessing to the
    source's usual preset; any other Entry field by keyword."""
    return Entry(
        source=source,
        name=name,
        arch=arch,
        builder=builder or name,
        preprocess=preprocess or PREPROCESS.get(source, TORCHVISION_V1),
        **fields,
    )


def at_size(entry: Entry, size: int) -> Entry:
    """``entry`` fed ``size``-pixel crops (its resize scaled alike): its random weights are then
    calibrated at that size too, cheaply for a test that does not depend on the size."""
    import dataclasses

    preprocess = dataclasses.replace(entry.preprocess, crop=size, resize=round(entry.preprocess.resize * size / entry.input_size))
    return dataclasses.replace(entry, input_size=size, preprocess=preprocess)


def random_checkpoint(entry: Entry, path: Path, seed: int, **options) -> Path:
    """Seeded random weights of ``entry`` (zoocheck's one scheme, at the entry's input size) written
    in its source's on-disk format at ``path`` (``write_weights``; ``options`` are the format
    writer's): what ``load(entry, None, random_seed=seed)`` holds, read back through the real
    path. Entries without a ResNetSpec have no file writer: their tests load random weights."""
    from zoocheck.converters.weights import random_weights, write_weights

    return write_weights(entry, random_weights(entry.arch, seed, entry.input_size), path, **options)


@pytest.fixture(scope="session")
def mmpretrain_models():
    """mmpretrain's own model registry, a test-only reference (its import needs importlib-metadata,
    modelindex, einops: setup.sh); the tests using it skip where it cannot be imported."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import mmpretrain.models  # noqa: F401
            from mmpretrain.registry import MODELS
        except ImportError as exc:
            pytest.skip(f"mmpretrain cannot be imported: {exc}")
    return MODELS


# ---------------------------------------------------------------------------------------------
# inputs


@pytest.fixture(scope="session")
def photos() -> list[Path]:
    """The real photographs shipped in the scikit-image wheel (a test dependency)."""
    found = bundled_photos()
    assert found, "scikit-image (a test dependency) ships the real photographs"
    return found


def inputs_for(entry: Entry, n_random: int = 2, seed: int = 0) -> np.ndarray:
    """The bundled real photographs through ``entry``'s own preprocessing, then random tensors."""
    photos = bundled_photos()
    assert photos, "scikit-image (a test dependency) ships the real photographs"
    batch = [preprocess_image(p, entry.preprocess) for p in photos]
    return np.concatenate([np.stack(batch), random_inputs(n_random, entry.input_size, seed)], axis=0)


# ---------------------------------------------------------------------------------------------
# ONNX files and parity


@pytest.fixture(scope="session")
def torchvision_resnet18_onnx(tmp_path_factory) -> Path:
    """torchvision's resnet18 converted once per test process with random weights (seed 0), the
    canonical graph: the ONNX file the tests that only read one share. Never modify it."""
    pytest.importorskip("torch")
    from zoocheck.converters.pipeline import convert
    from zoocheck.zoo_registry import get_entry

    conversion = convert(
        get_entry("torchvision", "resnet18.IMAGENET1K_V1"), output=tmp_path_factory.mktemp("shared") / "resnet18.onnx", random_seed=0
    )
    assert conversion.ok, conversion.failure
    return conversion.onnx_path


def run_onnx(path: Path, batch: np.ndarray) -> np.ndarray:
    return run_first_output(session(path), batch)


def run_model(model, x: np.ndarray) -> np.ndarray:
    """An in-memory ONNX model's first output for ``x`` fed to its input ``input``, in onnxruntime."""
    import onnxruntime as ort

    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]


def checked_layer_outputs(source: str, name: str, input_size: int | None = None) -> dict[str, str]:
    """``first_divergence``'s per-layer outputs of an entry (canonical tensor -> the library's
    module), each checked to name a module of the library's network and a tensor of the canonical
    template (built at ``input_size`` where its structure depends on it)."""
    from zoocheck.converters import converter_for
    from zoocheck.converters.graph import template_for
    from zoocheck.converters.weights import layer_modules
    from zoocheck.zoo_registry import get_entry

    entry = get_entry(source, name)
    modules = dict(converter_for(source).build(entry).named_modules())
    layers = layer_modules(entry.arch, source)
    assert layers and set(layers.values()) <= modules.keys()
    assert set(layers) <= {output for node in template_for(entry.arch, 17, input_size).graph.node for output in node.output}
    return layers


def assert_compare_identical(a: str, b: str, results: Path, capsys) -> None:
    """``zoocheck compare a b --random-weights`` (``source:name`` each) says one function."""
    from zoocheck.cli import main

    assert main(["compare", a, b, "--random-weights", "--results", str(results)]) == 0
    assert "COMPARE IDENTICAL" in capsys.readouterr().out


def max_rel(reference: np.ndarray, test: np.ndarray) -> float:
    """Worst row of max|diff| / (max - min of the reference logits)."""
    reference, test = np.asarray(reference, np.float64), np.asarray(test, np.float64)
    span = reference.max(axis=1) - reference.min(axis=1)
    return float((np.abs(reference - test).max(axis=1) / span).max())


def error_beyond_fp32_noise(conversion, outputs: np.ndarray) -> float:
    """``outputs``' error against the framework's float64 forward (``max_rel``) beyond twice the
    framework's own float32 error: onnxruntime's summation order is not the framework's, and each is
    its own fp32 noise away from fp64 (a MobileNetV3-small at opset 18: torch 7.4e-6, onnxruntime
    1.6e-5; an EfficientNet-B0 with torch on two threads 1.02e-5)."""
    fp32_noise = max_rel(conversion.native_outputs_fp64, conversion.native_outputs)
    return max(0.0, max_rel(conversion.native_outputs_fp64, outputs) - 2 * fp32_noise)


def assert_same(reference: np.ndarray, test: np.ndarray, tol: float) -> None:
    """Parity: same shape, finite, relative error under ``tol``, the same top-1 everywhere."""
    assert reference.shape == test.shape
    assert np.isfinite(test).all()
    rel = max_rel(reference, test)
    assert rel < tol, f"relative error {rel:.3g} >= {tol}"
    assert (reference.argmax(1) == test.argmax(1)).all()


def assert_forward_is_network(forward, arch: Architecture, params: dict[str, np.ndarray], module, x: np.ndarray) -> None:
    """A family's numpy ``forward`` of the canonical ``params`` gives the library's network
    ``module`` (holding them under its names) its logits on ``x``: to float64 rounding (1e-12 of
    the logit range) with both in float64, and the float32 forward within 1e-5 of them."""
    import torch

    reference = forward(arch, params, x)
    with torch.no_grad():
        out = module.double()(torch.from_numpy(x)).numpy()
    assert np.ptp(reference) > 1
    assert np.abs(out - reference).max() <= 1e-12 * np.ptp(reference)
    assert np.abs(forward(arch, params, x, dtype=np.float32) - reference).max() <= 1e-5 * np.ptp(reference)


def assert_not_degenerate(logits: np.ndarray, n_photos: int) -> None:
    """Random weights must still tell inputs apart: finite, moderate spread, several top-1s."""
    assert np.isfinite(logits).all()
    spread = logits.std(axis=1)
    assert (spread > 0.1).all() and (spread < 1e3).all(), spread
    assert len(set(logits[:n_photos].argmax(1).tolist())) >= 2, logits[:n_photos].argmax(1)


def assert_conventions(path: Path, opset: int = 17) -> None:
    """The README's ONNX conventions: input ``input`` and first output ``logits`` with a dynamic
    batch ``N``, the opset asked for (in the file and its metadata), and the full checker."""
    import onnx

    model = onnx.load(str(path))
    inp, out = model.graph.input[0], model.graph.output[0]
    assert (inp.name, out.name, inp.type.tensor_type.shape.dim[0].dim_param) == ("input", "logits", "N")
    assert next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) == opset
    assert json.loads({p.key: p.value for p in model.metadata_props}["zoocheck"])["opset"] == opset
    onnx.checker.check_model(model, full_check=True)


# ---------------------------------------------------------------------------------------------
# test-only sources


@pytest.fixture
def registered_source():
    """``registered_source(descriptor)`` registers a test-only source through the public API for
    one test, and removes it afterwards."""
    names = []

    def register(source: Source) -> Source:
        register_source(source)
        names.append(source.name)
        return source

    yield register
    for name in names:
        unregister_source(name)
