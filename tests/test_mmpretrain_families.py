"""mmpretrain's MobileNetV2/V3, EfficientNet, EfficientNetV2, DenseNet and VGG
(``zoocheck/families/<family>/mmpretrain.py``) proved against mmpretrain 1.2.0 itself (a test-only
dependency): the registry entry's own config built by ``mmpretrain.get_model``, its weights
randomised (batch-norm statistics measured and perturbed, logits spread) and written by mmengine's
``save_checkpoint``; zoocheck's converter loads that file and computes what mmpretrain computes,
and zoocheck's parity check (``zoocheck parity``'s) passes on it end to end."""

from __future__ import annotations

import importlib
import inspect

import pytest

torch = pytest.importorskip("torch")

from conftest import assert_not_degenerate, assert_same, at_size, inputs_for, make_entry  # noqa: E402

from zoocheck.checks.images import bundled_photos  # noqa: E402
from zoocheck.converters import converter_for  # noqa: E402
from zoocheck.converters.base import NoBuilder  # noqa: E402
from zoocheck.families.densenet.spec import DenseNetSpec  # noqa: E402
from zoocheck.families.efficientnet.spec import EfficientNetSpec  # noqa: E402
from zoocheck.families.efficientnet_v2.spec import EfficientNetV2Spec  # noqa: E402
from zoocheck.families.mobilenet_v3.spec import MobileNetV3Spec  # noqa: E402
from zoocheck.families.vgg.spec import STANDARD_LAYERS, VGGSpec  # noqa: E402
from zoocheck.zoo_registry import get_entry, list_entries  # noqa: E402
from zoocheck.zoo_registry.types import Architecture, Entry  # noqa: E402

FAMILIES = ("mobilenet_v2", "mobilenet_v3", "efficientnet", "efficientnet_v2", "densenet", "vgg")
#: the smallest registry entry of each family and the input size its parity is checked at, as in
#: CASES (VGG's flattening classifier takes 224 pixels only)
SMALLEST = {
    "mobilenet_v2": ("mobilenet-v2_8xb32_in1k", 96),
    "mobilenet_v3": ("mobilenet-v3-small-050_3rdparty_in1k", 96),
    "efficientnet": ("efficientnet-b0_3rdparty_8xb32_in1k", 97),
    "efficientnet_v2": ("efficientnetv2-b0_3rdparty_in1k", 96),
    "densenet": ("densenet121_3rdparty_in1k", 64),
    "vgg": ("vgg11_8xb32_in1k", 224),
}


@pytest.fixture(scope="module")
def get_model(mmpretrain_models):
    """mmpretrain's own model builder from its model index (the configs it ships)."""
    from mmpretrain import get_model

    return get_model


def _mmpretrain_entries(family: str) -> list[Entry]:
    return [e for e in list_entries("mmpretrain") if e.arch.family == family]


def _their_checkpoint(get_model, entry: Entry, path, seed: int):
    """mmpretrain's model of ``entry`` with seeded random weights, written by mmengine as
    mmpretrain publishes checkpoints (``{"meta", "state_dict"}``)."""
    from mmengine.runner.checkpoint import save_checkpoint

    from zoocheck.converters.torch_random import randomize

    torch.manual_seed(seed)
    model = get_model(entry.name, pretrained=False).eval()
    randomize(model, seed, entry.input_size)
    save_checkpoint({"meta": {"mmpretrain_version": "1.2.0"}, "state_dict": model.state_dict()}, str(path))
    return path


def _their_forward(get_model, entry: Entry, path, x):
    from mmengine.runner import load_checkpoint

    from zoocheck.converters.torch_common import undrawn_parameters

    with undrawn_parameters():  # every parameter is loaded next: their initial draws are not needed
        model = get_model(entry.name, pretrained=False).eval()
    load_checkpoint(model, str(path), map_location="cpu", strict=True)  # mmpretrain's own loader
    with torch.no_grad():
        return model(torch.from_numpy(x), mode="tensor").numpy()


# (entry, test input size): every MobileNetV3 table, EfficientNet at an odd size too (TF "same"
# padding splits differently), the larger variants slow
CASES = [
    ("mobilenet-v2_8xb32_in1k", 96),
    ("mobilenet-v3-small-050_3rdparty_in1k", 96),
    pytest.param("mobilenet-v3-small-075_3rdparty_in1k", 96, marks=pytest.mark.slow),
    ("mobilenet-v3-small_8xb128_in1k", 96),
    pytest.param("mobilenet-v3-large_8xb128_in1k", 96, marks=pytest.mark.slow),
    ("efficientnet-b0_3rdparty_8xb32_in1k", 97),
    pytest.param("efficientnet-b3_3rdparty_8xb32_in1k", 96, marks=pytest.mark.slow),
    ("efficientnetv2-b0_3rdparty_in1k", 96),
    pytest.param("efficientnetv2-s_3rdparty_in1k", 96, marks=pytest.mark.slow),
    ("densenet121_3rdparty_in1k", 64),
    pytest.param("densenet161_3rdparty_in1k", 64, marks=pytest.mark.slow),
    ("vgg11bn_8xb32_in1k", 224),
    pytest.param("vgg16_8xb32_in1k", 224, marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("name", "size"), CASES)
def test_forward_equals_mmpretrain_on_its_own_checkpoint(tmp_path, get_model, name, size):
    entry = at_size(get_entry("mmpretrain", name), size)
    path = _their_checkpoint(get_model, entry, tmp_path / f"{name}.pth", seed=7)
    x = inputs_for(entry)
    reference = _their_forward(get_model, entry, path, x)
    ours = converter_for("mmpretrain").load(entry, path).forward(x)
    assert_not_degenerate(reference, len(bundled_photos()))
    assert_same(reference, ours, 1e-5)


def _backbone(config) -> dict:
    """A backbone config with mmpretrain's defaults filled in, an ``arch`` name as its settings."""
    from mmpretrain.registry import MODELS

    backbone = MODELS.get(config.type)
    signature = inspect.signature(backbone).parameters.items()
    out = {**{k: p.default for k, p in signature if p.default is not p.empty}, **config}
    if isinstance(out.get("arch"), str) and isinstance(getattr(backbone, "arch_settings", {}).get(out["arch"]), dict):
        out["arch"] = backbone.arch_settings[out["arch"]]  # DenseNet's named archs
    return out


@pytest.mark.parametrize("family", FAMILIES)
def test_every_entry_is_the_network_its_config_declares(get_model, family):
    """Each registry entry's spec maps onto the backbone its own config file declares (type,
    arch/depth, batch norm and its epsilon, the rest at mmpretrain's defaults), with the head the
    config gives it."""
    from mmpretrain.apis import ModelHub

    builder = importlib.import_module(f"zoocheck.families.{family}.mmpretrain")
    entries = _mmpretrain_entries(family)
    assert entries
    heads = {}  # the network is the architecture's: built once for the entries that share one
    for entry in entries:
        config = ModelHub.get(entry.name).config.model
        theirs = _backbone(config.backbone)
        ours = builder.backbone_config(entry.arch.structure)
        assert set(theirs) >= set(ours), entry.name
        for key, value in ours.items():
            if key == "norm_cfg" and value is not None:  # mmcv's BatchNorm epsilon defaults to PyTorch's
                assert (theirs[key] or {}).get("eps", 1e-5) == value["eps"], entry.name
            else:
                assert theirs[key] == value, (entry.name, key)
        if entry.arch not in heads:
            with torch.device("meta"):
                heads[entry.arch] = builder.build_classifier(entry.arch).head
        head = heads[entry.arch]
        if config.head.type == "StackedLinearClsHead":
            assert [block.fc.out_features for block in head.layers] == [*config.head.mid_channels, config.head.num_classes]
        elif config.head.type == "LinearClsHead":
            assert (head.fc.in_features, head.fc.out_features) == (config.head.in_channels, config.head.num_classes)
        else:  # VGG: the backbone's classifier, no head parameters
            assert config.head.type == "ClsHead" and config.backbone.num_classes == entry.arch.num_classes


@pytest.mark.parametrize(
    "structure, refused",
    [
        (MobileNetV3Spec("small", head="conv"), "head 'conv' (mmpretrain: 'linear')"),
        (MobileNetV3Spec("large", width=0.75, head="linear"), "no large network of width 0.75"),
        (EfficientNetSpec("b0"), "padding 'symmetric' (mmpretrain: 'same')"),
        (EfficientNetSpec("lite0", padding="same"), "has no lite0"),
        (EfficientNetV2Spec("rw_t", padding="same"), "has no rw_t"),
        (DenseNetSpec(32, (6, 12, 24, 16), stem="deep"), "stem 'deep' (mmpretrain: '7x7')"),
        (
            VGGSpec(STANDARD_LAYERS[16], conv_bias=False, eval_dropout_scale=0.5),
            "conv_bias False (mmpretrain: True), eval_dropout_scale 0.5",
        ),
    ],
    ids=lambda v: v.id if hasattr(v, "id") else "",
)
def test_networks_mmpretrain_does_not_build_are_refused_with_the_field(structure, refused):
    entry = make_entry("mmpretrain", f"test_{structure.id}", Architecture(structure))
    with pytest.raises(NoBuilder) as exc:
        converter_for("mmpretrain").load(entry, None, random_seed=0)
    message = str(exc.value)
    assert "\n" not in message and structure.id in message and refused in message


def test_random_weights_are_seeded_and_tell_inputs_apart():
    entry = at_size(get_entry("mmpretrain", "mobilenet-v3-small-050_3rdparty_in1k"), 96)
    x = inputs_for(entry)
    first = converter_for("mmpretrain").load(entry, None, random_seed=3).forward(x)
    assert_not_degenerate(first, len(bundled_photos()))
    assert (converter_for("mmpretrain").load(entry, None, random_seed=3).forward(x) == first).all()
    assert not (converter_for("mmpretrain").load(entry, None, random_seed=4).forward(x) == first).all()


@pytest.mark.parametrize("family", [f if f != "vgg" else pytest.param(f, marks=pytest.mark.slow) for f in FAMILIES])
def test_parity_passes_on_a_checkpoint_mmpretrain_wrote(tmp_path, get_model, family):
    """The parity check (``zoocheck parity``'s) of the family's smallest entry, at its small size, on
    a checkpoint mmpretrain wrote: the ONNX file computes what mmpretrain's own forward does
    (VGG-11's 133M parameters: slow)."""
    from zoocheck.checks.parity import check_parity
    from zoocheck.reports.lines import parity_line

    entry = at_size(get_entry("mmpretrain", SMALLEST[family][0]), SMALLEST[family][1])
    path = _their_checkpoint(get_model, entry, tmp_path / f"{entry.name}.pth", seed=5)
    # in this process: the family's conversion, not the child process (test_mmpretrain_converter isolates mmpretrain's)
    result, _ = check_parity(entry, weights=path, random_seed=None, output=tmp_path / "out.onnx", isolate=False)
    assert result.status == "ok" and not result.random_weights, parity_line(result)
    assert all(c.max_rel_err < 1e-3 and c.top1_agree for c in result.comparisons)


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "efficientnet_v2"])
def test_canonical_weights_are_not_written_under_names_no_mmpretrain_network_loads(tmp_path, family):
    # these families have no mmpretrain layout (EfficientNetV2 has one): their canonical names are
    # not mmpretrain's
    from zoocheck.converters.weights.formats import write_weights

    entry = get_entry("mmpretrain", SMALLEST[family][0])
    path = tmp_path / "random.pth"
    with pytest.raises(NoBuilder, match=f"no mmpretrain checkpoint writer .* for the {family} family"):
        write_weights(entry, {}, path)
    assert not path.exists()
