"""What the torch-family converters (torchvision, timm, mmpretrain, GluonCV) share, importable
without torch: torch is imported when a model is loaded, never at import."""

from __future__ import annotations

from zoocheck.converters.base import Converter, framework_unavailable

class TorchConverter(Converter):
    """The pip extra, the import check and torch's threads and global seed (``Converter.prepare``;
    the libraries' own initialisation draws from that seed)."""

    extra = "torch"
    #: modules imported by ``check_available`` besides torch (timm, torchvision)
    libraries: tuple[str, ...] = ()

    def check_available(self) -> None:
        for module in ("torch", *self.libraries):
            try:
                __import__(module)
            except Exception as exc:  # ImportError, or a broken install raising OSError
                raise framework_unavailable(module, exc, self.extra) from exc

    def configure(self, threads: int | None, random_seed: int | None) -> None:
        import torch

        if threads is not None:
            torch.set_num_threads(threads)
        if random_seed is not None:
            torch.manual_seed(random_seed)
