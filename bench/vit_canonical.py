"""Canonical form and parity of a ViT-B/16 at 224 against torch.onnx export plus one onnxruntime run.

Writes a real timm checkpoint (seeded random weights, ``vit_base_patch16_224.augreg2_in21k_ft_in1k``
as a ``.safetensors`` file), then times, in alternating order per pair, two whole processes:

- ``zoocheck parity --src timm --model vit_base_patch16_224.augreg2_in21k_ft_in1k --weights F``
  (canonical graph: the export rewritten in the form every zoo's ViT-B/16 shares, then the fp32 and
  fp64 torch forwards against onnxruntime on 7 inputs),
- the floor: build the network with timm, load the file, ``torch.onnx.export`` (opset 17, the
  TorchScript exporter, as zoocheck uses it) and one onnxruntime run of the same 7 inputs,

and prints each pair's ratio and their median (target: 1.3x). ``--pairs`` (default 3); the machine
should be otherwise idle. Arguments after ``--`` go to the zoocheck command.

Idle, on this 2-core machine: ``--pairs 2`` (2026-12-06): floor 12-15 s, zoocheck 31-32 s: 2.33x;
``--pairs 3`` (2026-12-07, a slower night: floor 18-19.5 s): zoocheck 34-36 s, 1.81x. The target
is not met. What zoocheck does beyond the floor, timed stage by stage in one process (the
job, 24-27 s with its imports): the torch fp32 forward (the reference, about 2 s for the 7
inputs) and the fp64 forward (the yardstick of fp32's own error, 4-5 s), which now runs on a
float64 twin in a thread beside the fp32 forward and the export: on two cores both slow down as
much as it saves, about 1 s in all; the canonical pass, 6-8 s: onnxslim's four rounds (5 s: each
imports the graph into its graph-surgeon form and exports it back, with the ViT's 330 MB of Linear
weights; only the convolution weights are lifted out, and a ViT has one), then the rewrites
(LayerNormalization, Gelu and the fused QKV projection in one form, each attention region checked
against onnxruntime before it is replaced), the checker and the write; sha256 of the weights and
of the written file; and a child process for the framework work (3 s of start-up, overlapped with
the parent's own by starting it ahead).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from whole_process import pairs_arguments, parity_command, timed

SOURCE, MODEL = "timm", "vit_base_patch16_224.augreg2_in21k_ft_in1k"

FLOOR = r"""
import sys

import numpy as np
import onnxruntime as ort
import timm
import torch
from safetensors.torch import load_file

builder, checkpoint, inputs_file, onnx_file = sys.argv[1:5]
network = timm.create_model(builder, pretrained=False)
network.load_state_dict(load_file(checkpoint))
network.eval()
batch = np.load(inputs_file)
with torch.no_grad():
    torch.onnx.export(
        network, (torch.zeros(1, *batch.shape[1:]),), onnx_file, input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=17, do_constant_folding=True, dynamo=False,
    )
session = ort.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
logits = session.run(None, {"input": batch})[0]
assert logits.shape == (len(batch), 1000) and np.isfinite(logits).all()
"""


def prepare(folder: Path, seed: int) -> tuple[Path, Path, str]:
    """The checkpoint, the 7 inputs zoocheck's parity feeds, and timm's architecture name."""
    from zoocheck.capture import captured_text
    from zoocheck.checks.parity import model_inputs
    from zoocheck.converters.weights import random_weights, write_weights
    from zoocheck.zoo_registry import get_entry

    entry = get_entry(SOURCE, MODEL)
    checkpoint = write_weights(entry, random_weights(entry.arch, seed, entry.input_size), folder / f"{MODEL}.safetensors")
    inputs = folder / "inputs.npy"
    with captured_text():  # libpng's colour-profile warnings
        np.save(inputs, model_inputs(entry, None).batch)
    return checkpoint, inputs, entry.builder


def main() -> None:
    args = pairs_arguments(__doc__, default_pairs=3)
    with tempfile.TemporaryDirectory(prefix="zoocheck-bench-") as tmp:
        folder = Path(tmp)
        checkpoint, inputs, builder = prepare(folder, args.seed)
        ratios: list[float] = []
        for run in range(args.pairs):
            commands = {
                "floor": [sys.executable, "-c", FLOOR, builder, str(checkpoint), str(inputs), str(folder / f"floor-{run}.onnx")],
                "zoocheck": parity_command(SOURCE, MODEL, checkpoint, folder / f"results-{run}", *args.extra),
            }
            order = list(commands) if run % 2 == 0 else list(reversed(commands))  # alternate who goes first
            seconds = {name: timed(commands[name]) for name in order}
            ratios.append(seconds["zoocheck"] / seconds["floor"])
            print(f"pair {run + 1}: floor {seconds['floor']:.1f} s, zoocheck {seconds['zoocheck']:.1f} s ({ratios[-1]:.3f}x)", flush=True)
        print(
            f"median: zoocheck parity (canonical) {statistics.median(ratios):.3f}x torch.onnx export plus one onnxruntime run (target 1.3x)"
        )


if __name__ == "__main__":
    main()
