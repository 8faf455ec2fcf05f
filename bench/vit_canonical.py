"""Canonical form and parity of a ViT-B/16 at 224 against torch.onnx export plus one onnxruntime run.

Writes a real timm checkpoint (seeded random weights, ``vit_base_patch16_224.augreg2_in21k_ft_in1k``
as a ``.safetensors`` file), then times, in alternating order per pair, two whole processes:

- ``zoocheck parity --src timm --model vit_base_patch16_224.augreg2_in21k_ft_in1k --weights F``
  (canonical graph: the export rewritten in the form every zoo's ViT-B/16 shares, then the fp32 and
  fp64 torch forwards against onnxruntime on 7 inputs),
- the floor: build the network with timm, load the file, ``torch.onnx.export`` (opset 17, the
  TorchScript exporter, as zoocheck uses it) and one onnxruntime run of the same 7 inputs,

and prints each pair's ratio and their median (target: 1.3x); then times apart, in warm processes,
what parity computes beyond the floor (``PARITY_FORWARDS``: the torch fp32 forward of the 7 inputs,
the reference, and the fp64 forward on a float64 copy, fp32's own error; and the canonical step,
``finish_graph`` canonical less native on the floor's export) and prints the median ratio to the
floor plus that work. ``--pairs`` (default 3); the machine should be otherwise idle. Arguments
after ``--`` go to the zoocheck command.

Idle, on this 2-core machine (2026-12-07, 10:47, floor 13-18 s), ``--pairs 4``: **1.43x** (1.27-1.54x);
timed apart, the fp32 forward 2.4 s, the fp64 forward 5.6 s, the canonical step 1.8 s: 0.88x the
floor plus them. The target is not met, and cannot be here while parity computes both torch
forwards of the 7 inputs: sampled every 0.5 s, the run keeps both cores busy from the end of its
imports (6 s) to its last 0.5 s, 35 core-seconds against the floor's 17, and those forwards alone
are 13 of them on one core (fp32 4.3 s, fp64 8.8 s), about 6.5 s of wall on two cores, 0.45x of
the floor. What changed that day: the forwards run in a process forked after the load, on one core
beside the export, the canonical pass and the write, and the parent runs the file in onnxruntime as
soon as it is written, beside the float64 forward's end (before: 1.64x, 1.57-1.81x, the forwards in
the export's process, the float32 one ahead of the export and the float64 one in a thread that
waited for the interpreter lock torch.onnx's passes and onnx's parser and checker hold: 14 s for
its 10 s of work); the Linear layers' matrices are lifted out of the graph like the convolution
weights, so onnxslim's rounds handle 4 MB instead of 330 (the canonical step 5.6-6.4 s before,
2.9-3.4 s after, timed beside other work); timm's network is built without drawing the initial
values its checkpoint replaces (2 s of CPU a build). What zoocheck does beyond that work is its
child process (started ahead, so its imports overlap the parent's) and writing the file twice
(torch.onnx's export, then the canonical file: serialised once, checked while a thread writes and
hashes it).
"""

from __future__ import annotations

import pickle
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from whole_process import canonical_step_seconds, pairs_arguments, parity_command, timed

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


#: what parity computes beyond the floor's export and onnxruntime run, timed apart in one process:
#: the torch float32 forward on the 7 inputs (the reference) and the float64 forward on a float64
#: copy (fp32's own error), each alone on the machine's cores
PARITY_FORWARDS = r"""
import copy, sys, time

import numpy as np
import timm
import torch
from safetensors.torch import load_file

builder, checkpoint, inputs_file = sys.argv[1:4]
network = timm.create_model(builder, pretrained=False)
network.load_state_dict(load_file(checkpoint))
network.eval()
batch = torch.from_numpy(np.load(inputs_file))
with torch.no_grad():
    start = time.perf_counter()
    network(batch)
    middle = time.perf_counter()
    copy.deepcopy(network).double()(batch.double())
print(middle - start, time.perf_counter() - middle)
"""


def prepare(folder: Path, seed: int) -> tuple[Path, Path, str, Path]:
    """The checkpoint, the 7 inputs zoocheck's parity feeds, timm's architecture name, and the
    pickled registry entry."""
    from zoocheck.capture import captured_text
    from zoocheck.checks.parity import model_inputs
    from zoocheck.converters.weights import random_weights, write_weights
    from zoocheck.zoo_registry import get_entry

    entry = get_entry(SOURCE, MODEL)
    checkpoint = write_weights(entry, random_weights(entry.arch, seed, entry.input_size), folder / f"{MODEL}.safetensors")
    inputs = folder / "inputs.npy"
    with captured_text():  # libpng's colour-profile warnings
        np.save(inputs, model_inputs(entry, None).batch)
    entry_file = folder / "entry.pickle"
    entry_file.write_bytes(pickle.dumps(entry))
    return checkpoint, inputs, entry.builder, entry_file


def main() -> None:
    args = pairs_arguments(__doc__, default_pairs=3)
    with tempfile.TemporaryDirectory(prefix="zoocheck-bench-") as tmp:
        folder = Path(tmp)
        checkpoint, inputs, builder, entry_file = prepare(folder, args.seed)
        ratios: list[float] = []
        floors: list[float] = []
        for run in range(args.pairs):
            commands = {
                "floor": [sys.executable, "-c", FLOOR, builder, str(checkpoint), str(inputs), str(folder / f"floor-{run}.onnx")],
                "zoocheck": parity_command(SOURCE, MODEL, checkpoint, folder / f"results-{run}", *args.extra),
            }
            order = list(commands) if run % 2 == 0 else list(reversed(commands))  # alternate who goes first
            seconds = {name: timed(commands[name]) for name in order}
            ratios.append(seconds["zoocheck"] / seconds["floor"])
            floors.append(seconds["floor"])
            print(f"pair {run + 1}: floor {seconds['floor']:.1f} s, zoocheck {seconds['zoocheck']:.1f} s ({ratios[-1]:.3f}x)", flush=True)
        forwards = subprocess.run(
            [sys.executable, "-c", PARITY_FORWARDS, builder, str(checkpoint), str(inputs)], capture_output=True, text=True, check=True
        )
        fp32, fp64 = (float(seconds) for seconds in forwards.stdout.split()[-2:])
        canonical_step = canonical_step_seconds(entry_file, folder / "floor-0.onnx")
        extra = fp32 + fp64 + canonical_step
        to_floor_and_extra = [r * f / (f + extra) for r, f in zip(ratios, floors)]
        print(
            f"median: zoocheck parity (canonical) {statistics.median(ratios):.3f}x torch.onnx export plus one onnxruntime run "
            f"(target 1.3x); timed apart, parity's fp32 forward {fp32:.1f} s, its fp64 forward {fp64:.1f} s and the canonical "
            f"step {canonical_step:.1f} s: {statistics.median(to_floor_and_extra):.3f}x the floor plus them"
        )


if __name__ == "__main__":
    main()
