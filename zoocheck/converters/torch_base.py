"""What the torch-family converters (torchvision, timm, mmpretrain, GluonCV) share, importable
without torch: torch is imported when a model is loaded, never at import."""

from __future__ import annotations

from zoocheck.converters.base import Converter


class TorchConverter(Converter):
    """Torch's threads and global seed (``Converter.prepare``; the libraries' own initialisation
    draws from that seed). Which frameworks it needs is its source's descriptor's."""

    def configure(self, threads: int | None, random_seed: int | None) -> None:
        import torch

        if threads is not None:
            torch.set_num_threads(threads)
        if random_seed is not None:
            torch.manual_seed(random_seed)
