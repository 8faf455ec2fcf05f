"""torchvision and timm: build with the library itself, load its state_dict strictly, export with
torch.onnx. Any classifier the library knows converts, by its own name, not only ResNets (its entry
is built by ``library_entries``).

No network: models are built with ``weights=None`` / ``pretrained=False`` and weights come from a
local file in the library's own format.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from zoocheck.converters.base import TORCH_OPSETS, NativeModel
from zoocheck.converters.torch_base import TorchConverter
from zoocheck.zoo_registry.types import Entry


class _TorchLibraryConverter(TorchConverter):
    opset_range = TORCH_OPSETS
    library = ""

    def build(self, entry: Entry):
        raise NotImplementedError

    def library_version(self) -> str:
        return __import__(self.library).__version__.split("+")[0]

    def load(self, entry: Entry, weights: Path | None, *, random_seed: int | None = None) -> NativeModel:
        from zoocheck.converters import torch_common as tc
        from zoocheck.converters.torch_random import randomize
        from zoocheck.converters.weights import has_canonical_weights, layer_modules, random_weights, to_layout
        from zoocheck.converters.weights.layouts import channels_first_layers, recognised_layout

        self.prepare(weights, random_seed)
        state = tc.read_state_dict(Path(weights)) if weights is not None else None
        params = None
        if state is None and has_canonical_weights(entry.arch):
            # drawn before the network is built: an input size the family's weights cannot take
            # (a VGG's classifier reads a 7x7 map) is refused before a VGG's 133M weights are initialised
            params = to_layout(random_weights(entry.arch, random_seed, entry.input_size), entry.arch, self.library)
        # every parameter is loaded below but for the library's own random weights
        with tc.undrawn_parameters() if state is not None or params is not None else contextlib.nullcontext():
            module = self.build(entry)
        what = f"{self.library} {entry.builder} ({entry.arch.num_classes} classes)"
        # a checkpoint of this architecture under another naming its family knows (e.g.
        # EfficientNet-PyTorch's for a timm tf_efficientnet): renamed, never reshaped
        foreign = None
        if state is not None and set(state) != set(module.state_dict()):
            foreign = recognised_layout({k: tuple(v.shape) for k, v in state.items()}, entry.arch)
        if foreign is not None and foreign[0] != self.library:
            layout, canonical_names = foreign
            canonical = {canonical_names[k]: v.numpy() for k, v in state.items() if k in canonical_names}
            tc.load_canonical(
                module, to_layout(canonical, entry.arch, self.library), origin=f"{Path(weights).name} ({layout} names)", what=what
            )
        elif state is not None:
            tc.load_strict(module, state, Path(weights), what)
        elif params is not None:
            tc.load_canonical(module, params, origin=f"random weights (seed {random_seed})", what=what)
        else:
            randomize(module, random_seed, entry.input_size)
        layers, channels_first = layer_modules(entry.arch, self.library), channels_first_layers(entry.arch, self.library)
        return tc.TorchModel(module, entry.input_size, {self.library: self.library_version()}, layers=layers, channels_first=channels_first)


class TorchvisionConverter(_TorchLibraryConverter):
    library = "torchvision"

    def build(self, entry: Entry):
        import torchvision

        # a network whose parameters are sized for its input (a ViT's position embedding) is built
        # at the spec's size, as torchvision builds the weights of another size; its Swin builders
        # take no size (their windows are computed from the input)
        sized = {"image_size": entry.arch.structure.image_size} if entry.arch.family == "vit" else {}
        return torchvision.models.get_model(entry.builder, weights=None, num_classes=entry.arch.num_classes, **sized).eval()

    def resolve(self, name: str) -> Entry | None:
        from zoocheck.converters.library_entries import torchvision_resolve

        return torchvision_resolve(name)


class TimmConverter(_TorchLibraryConverter):
    library = "timm"

    def build(self, entry: Entry):
        import timm

        return timm.create_model(entry.builder, pretrained=False, num_classes=entry.arch.num_classes).eval()

    def resolve(self, name: str) -> Entry | None:
        from zoocheck.converters.library_entries import timm_resolve

        return timm_resolve(name)
