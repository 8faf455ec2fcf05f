"""Audit the registry against what can be measured without ImageNet: parameters and multiply-adds.

The counts are computed analytically from ``Entry.arch`` (for the ResNet family every conv and fc
shape follows from its ``ResNetSpec``), so auditing hundreds of entries takes
milliseconds and imports no framework. tests/test_audit.py checks the counter against torchvision,
timm and MXNet Gluon models.

Conventions the zoos use, and how the audit normalises them:
- parameters: torchvision, timm, mmpretrain and PaddleClas's per-family pages count trainable
  parameters; MXNet Gluon and the PaddleClas README (``paddle.flops``) also count the batch-norm running
  mean/variance. A published count agrees when it matches either.
- FLOPs: mmpretrain, torchvision (``_ops``), timm and the PaddleClas README count multiply-adds (MACs;
  ResNet-50 ~4.1 G); PaddleClas's per-family pages count FLOPs = 2 x MACs (8.2 G). ``Published.flops_unit``
  says which; FLOPs are halved before comparing. Only conv and fc multiply-adds are counted (batch norm,
  activations, pooling and additions are ~1% and counted differently by every tool).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from zoocheck.records import AuditRecord
from zoocheck.zoo_registry.resnet import STEM_CHANNELS, ResNetSpec
from zoocheck.zoo_registry.types import Architecture, Entry, Published

#: relative tolerance for "agrees": published numbers are rounded to 2-4 digits
PARAMS_RTOL = 0.01
MACS_RTOL = 0.03


@dataclass(frozen=True)
class Counts:
    params: int  # trainable parameters (weights, biases, batch-norm scale and shift)
    bn_stats: int  # batch-norm running mean + variance values (counted by MXNet and paddle.flops)
    macs: int  # conv + fc multiply-adds for one image at ``input_size``
    input_size: int

    @property
    def params_with_bn_stats(self) -> int:
        return self.params + self.bn_stats


class _Counter:
    def __init__(self, size: int):
        self.h = self.w = size
        self.params = self.bn_stats = self.macs = 0

    def conv(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, bias: bool = False,
             at: tuple[int, int] | None = None) -> tuple[int, int]:  # fmt: skip
        """A k x k conv (padding k // 2) applied at resolution ``at`` (default: the current one)."""
        h, w = at or (self.h, self.w)
        ho, wo = (h + 2 * (k // 2) - k) // stride + 1, (w + 2 * (k // 2) - k) // stride + 1
        weights = cout * (cin // groups) * k * k
        self.params += weights + (cout if bias else 0)
        self.macs += weights * ho * wo
        return ho, wo

    def bn(self, c: int, affine: bool = True) -> None:
        self.params += 2 * c if affine else 0
        self.bn_stats += 2 * c + (0 if affine else 2 * c)  # MXNet keeps gamma/beta even when frozen

    def pool(self, stride: int = 2) -> None:  # max-pool 3x3/s2/p1 or avg-pool 2x2/s2 (ceil)
        self.h, self.w = -(-self.h // stride), -(-self.w // stride)

    def fc(self, cin: int, cout: int) -> None:
        self.params += cin * cout + cout
        self.macs += cin * cout


def count(arch: Architecture, input_size: int = 224) -> Counts | None:
    """Parameters and MACs of a ResNet-family architecture (its ``ResNetSpec``); None for others."""
    spec = arch.resnet
    if spec is None:
        return None
    c = _Counter(input_size)
    if spec.preact:
        c.bn(3, affine=False)  # MXNet Gluon v2: BatchNorm(scale=False, center=False) on the input
    cin = 3
    for i, cout in enumerate(STEM_CHANNELS[spec.stem]):
        k = 7 if spec.stem == "7x7" else 3
        if i == 0:
            c.h, c.w = c.conv(cin, cout, k, 2)
        else:
            c.conv(cin, cout, k)
        c.bn(cout)
        cin = cout
    c.pool()
    for stage, blocks in enumerate(spec.layers):
        for index in range(blocks):
            _block(c, spec, cin, stage, index)
            cin = spec.out_channels(stage)
    if spec.preact:
        c.bn(cin)
    c.fc(cin, arch.num_classes)
    return Counts(params=c.params, bn_stats=c.bn_stats, macs=c.macs, input_size=input_size)


def _block(c: _Counter, spec: ResNetSpec, cin: int, stage: int, index: int) -> None:
    preact, groups = spec.preact, spec.groups
    stride, cout, width = spec.stride(stage, index), spec.out_channels(stage), spec.mid_channels(stage)
    h, w = c.h, c.w
    if preact:
        c.bn(cin)
    if spec.block == "bottleneck":
        if spec.stride_on == "1x1":  # MXNet Gluon BottleneckV1: stride on the first 1x1; the 1x1 convs carry a bias
            ho, wo = c.conv(cin, width, 1, stride, bias=True)
            c.bn(width)
            c.conv(width, width, 3, 1, groups, at=(ho, wo))
            c.bn(width)
            c.conv(width, cout, 1, 1, bias=True, at=(ho, wo))
        else:
            c.conv(cin, width, 1)
            c.bn(width)
            ho, wo = c.conv(width, width, 3, stride, groups)
            c.bn(width)
            c.conv(width, cout, 1, at=(ho, wo))
        if not preact:
            c.bn(cout)
    else:
        ho, wo = c.conv(cin, width, 3, stride)
        c.bn(width)
        c.conv(width, cout, 3, at=(ho, wo))
        if not preact:
            c.bn(cout)
    if spec.projects(stage, index):
        if spec.shortcut == "avgpool_conv" and stride != 1:  # avg-pool 2x2/s2, then a 1x1 conv at the reduced size
            c.conv(cin, cout, 1, 1, at=(ho, wo))
        else:
            c.conv(cin, cout, 1, stride, at=(h, w))
        if not preact:
            c.bn(cout)
    c.h, c.w = ho, wo


# --- comparing with what each zoo published ---------------------------------------------------

def audit_entry(entry: Entry) -> list[AuditRecord]:
    """A finding for every published parameter count and FLOPs/MACs figure of ``entry``: ok when
    it agrees with the count, failed when it disagrees, skipped when the architecture is not counted."""
    findings: list[AuditRecord] = []
    for pub in entry.published:
        size = pub.input_size or entry.input_size
        counts = count(entry.arch, size)
        if pub.params_m is not None:
            findings.append(_params_finding(entry, pub, counts, size))
        if pub.flops_g is not None:
            findings.append(_macs_finding(entry, pub, counts, size))
    return findings


def _close(a: float, b: float, rtol: float) -> bool:
    return abs(a - b) <= rtol * abs(b)


def _params_finding(entry: Entry, pub: Published, counts: Counts | None, size: int) -> AuditRecord:
    assert pub.params_m is not None
    base = dict(source=entry.source, model=entry.name, quantity="params_m", published=pub.params_m,
                published_unit="M params", normalised=pub.params_m, reference=pub.reference, input_size=size)  # fmt: skip
    if counts is None:
        return AuditRecord(**base, measured=None, convention="", status="skipped")  # type: ignore[arg-type]
    trainable, with_stats = counts.params / 1e6, counts.params_with_bn_stats / 1e6
    # the convention whose count is nearest to the published number (they differ by ~0.2-0.4%)
    convention, measured = min((("trainable", trainable), ("with BN stats", with_stats)),
                               key=lambda cm: abs(cm[1] - pub.params_m))  # type: ignore[operator]  # fmt: skip
    if _close(pub.params_m, measured, PARAMS_RTOL):
        return AuditRecord(**base, measured=round(measured, 6), convention=convention, status="ok")  # type: ignore[arg-type]
    return AuditRecord(**base, measured=round(measured, 6), convention="none", status="failed")  # type: ignore[arg-type]


def _macs_finding(entry: Entry, pub: Published, counts: Counts | None, size: int) -> AuditRecord:
    assert pub.flops_g is not None
    flops_unit = pub.flops_unit or "MACs"
    normalised = pub.flops_g / 2 if flops_unit == "FLOPs" else pub.flops_g
    unit = "GFLOPs (2 x MACs)" if flops_unit == "FLOPs" else "GMACs"
    base = dict(source=entry.source, model=entry.name, quantity="macs_g", published=pub.flops_g, published_unit=unit,
                normalised=normalised, reference=pub.reference, input_size=size)  # fmt: skip
    if counts is None:
        return AuditRecord(**base, measured=None, convention="", status="skipped")  # type: ignore[arg-type]
    measured = counts.macs / 1e9
    status = "ok" if _close(normalised, measured, MACS_RTOL) else "failed"
    return AuditRecord(**base, measured=round(measured, 6), convention="conv+fc MACs", status=status)  # type: ignore[arg-type]


def audit(entries: Iterable[Entry]) -> list[AuditRecord]:
    return [f for e in entries for f in audit_entry(e)]
