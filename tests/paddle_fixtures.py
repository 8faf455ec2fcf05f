"""PaddleClas's own code, imported for the tests from the installed ``paddleclas`` wheel.

setup.sh installs paddleclas with ``--no-deps`` (its requirements pin old numpy/opencv and pull
faiss, visualdl, sklearn). Importing ``paddleclas`` itself would import all of them, so the packages
on the way to the few modules the tests need are registered as empty namespace modules pointing at
the wheel's folders: their ``__init__`` never runs, the modules themselves are PaddleClas's files,
unmodified, with their relative imports intact.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import types
from pathlib import Path

# The packages between ``paddleclas`` and the modules below, whose __init__ would import the world.
_PACKAGES = (
    "paddleclas",
    "paddleclas.ppcls",
    "paddleclas.ppcls.utils",
    "paddleclas.ppcls.arch",
    "paddleclas.ppcls.arch.backbone",
    "paddleclas.ppcls.arch.backbone.base",
    "paddleclas.ppcls.arch.backbone.legendary_models",
    "paddleclas.ppcls.arch.backbone.model_zoo",
    "paddleclas.deploy",
    "paddleclas.deploy.python",
)

ARCH_MODULES = {
    "legendary": "paddleclas.ppcls.arch.backbone.legendary_models.resnet",
    "vc": "paddleclas.ppcls.arch.backbone.model_zoo.resnet_vc",
    "resnext": "paddleclas.ppcls.arch.backbone.model_zoo.resnext",
    "resnext_vd": "paddleclas.ppcls.arch.backbone.model_zoo.resnext_vd",
    "wsl": "paddleclas.ppcls.arch.backbone.model_zoo.resnext101_wsl",
}
PREPROCESS_MODULE = "paddleclas.deploy.python.preprocess"


def paddleclas_root() -> Path | None:
    """The installed wheel's ``paddleclas`` folder, found without importing it."""
    spec = importlib.util.find_spec("paddleclas") if "paddleclas" not in sys.modules else None
    if spec is None:
        module = sys.modules.get("paddleclas")
        return Path(module.__path__[0]) if module is not None else None
    return Path(next(iter(spec.submodule_search_locations)))


def import_paddleclas(module: str):
    """Import one PaddleClas module (e.g. ``ARCH_MODULES['legendary']``) from the installed wheel."""
    root = paddleclas_root()
    if root is None:
        raise ImportError("paddleclas is not installed; run ./setup.sh (it installs paddleclas --no-deps for the tests)")
    for name in _PACKAGES:
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(root.joinpath(*name.split(".")[1:]))]
            sys.modules[name] = package
    # paddle.jit records the ``six`` module when first imported: import it before six is stubbed.
    importlib.import_module("paddle.jit")
    stub_six = "six" not in sys.modules and importlib.util.find_spec("six") is None
    if stub_six:
        # deploy/python/preprocess.py imports six only for ``six.PY2`` in DecodeImage.
        six = types.ModuleType("six")
        six.PY2, six.PY3 = False, True
        sys.modules["six"] = six
    try:
        imported = importlib.import_module(module)
    finally:
        if stub_six:
            del sys.modules["six"]
    ppcls_logger = sys.modules.get("paddleclas.ppcls.utils.logger")
    if ppcls_logger is not None and ppcls_logger._logger is None:
        # PaddleClas's tools call logger.init_logger() first (a stdout handler); a plain logger will do.
        ppcls_logger._logger = logging.getLogger("ppcls")
    return imported


def perturbed_state(model, seed: int, damped=lambda key: False) -> dict:
    """Random float32 values for every entry of a PaddleClas model's state dict, batch-norm
    statistics included (so a mixed-up ``_mean``/``_variance`` shows): He-scaled convs, 1/sqrt(in)
    Linear weights, gammas around 1 (``damped(key)``: in 0.2-1.0, for the last batch norm of deep
    residual branches), biases, betas and means around 0, variances in 0.5-1.5."""
    import numpy as np

    rng = np.random.default_rng(seed)
    state = {}
    for key, tensor in model.state_dict().items():
        shape = tuple(tensor.shape)
        if key.endswith("_variance"):
            state[key] = rng.uniform(0.5, 1.5, shape)
        elif len(shape) == 4:
            state[key] = rng.normal(0, np.sqrt(2.0 / np.prod(shape[1:])), shape)
        elif len(shape) == 2:
            state[key] = rng.normal(0, 1 / np.sqrt(shape[0]), shape)
        elif key.endswith("weight"):
            state[key] = rng.uniform(0.2, 1.0, shape) if damped(key) else rng.uniform(0.7, 1.3, shape)
        else:
            state[key] = rng.normal(0, 0.1, shape)
    return {k: v.astype(np.float32) for k, v in state.items()}
