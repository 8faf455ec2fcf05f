"""The README's main job on a real checkpoint file against the hand-written floor, as whole processes.

Writes a real PaddleClas checkpoint (seeded random weights, ``paddle.save``'s ``.pdparams``), then
times, in alternating order per pair, three whole processes:

- ``zoocheck parity --src ppcls --model resnext101_vd_32x4d --weights F.pdparams`` (canonical graph),
- the same with ``--graph native``,
- the floor: what a user writes by hand with the same libraries, in one process: build the
  network, ``set_state_dict``, ``paddle.jit.save``, ``paddle2onnx.export``, onnxruntime, compare on
  the same 7 inputs (zoocheck's own network code stands in for PaddleClas's, which is not
  installed: the same layers under the same names; the inputs are read from a file, so the floor
  does not decode photographs).

and prints each pair's ratios to the floor and their medians; then times the canonical step's own
work apart (``finish_graph`` canonical less native, on the floor's export) and prints the canonical
run's median ratio to the floor plus that step, the figure the canonical target is set against.
``--pairs`` (default 5); the machine should be otherwise idle. Arguments after ``--`` go to both zoocheck commands.

Idle, on this 2-core machine (2026-12-07, 11:07, floor 19-21 s), ``--pairs 3``: canonical 1.003x, native
0.886x the floor; the canonical step 0.88 s, canonical 0.959x the floor plus it. Earlier that day
(2026-12-07, early morning, floor 21-26 s), ``--pairs 3``: canonical
1.05x, native 0.84x the floor; the canonical step 1.20 s, canonical 0.99x the floor plus it (targets:
native 1.05x, canonical 1.10x the floor plus the step). The two nights before (floor 12-29 s, ratios
of one run only compare): canonical 1.08-1.17x, native 0.97-0.98x, canonical 1.03-1.11x the floor
plus the step. What changed since, both in the child's Paddle work: paddle2onnx's constant folding
no longer imports torch (Polygraphy imports ``onnxruntime.tools``, whose ``__init__`` imports torch
for a PyTorch helper: 3.7 s and 0.4 GB in a fresh process, which the floor, a user's script, still
pays), and ``paddle.jit.save`` runs zoocheck's PaddleClas networks as they are instead of
converting their source first (the floor builds the same network code, so it gains that too).

Where zoocheck's time goes beyond the floor (one process, ResNeXt101_vd_32x4d, 7 inputs):

- the float64 forward on the same inputs, 4-5 s of CPU idle (about twice that at load 3): fp32's
  own error, reported beside the ONNX file's (the scale the tolerance is read against). It runs in
  a thread on a float64 copy of the network (the copy made in that thread too (new): 0.5 s) beside
  the fp32 forward, ``jit.save`` and paddle2onnx (``NativeModel.start_forward_fp64``), so it costs
  wall time only when no second core is free; weights over 512 MiB are cast in place after the
  export instead, so the copy never doubles a large model's memory. This is the gap left on a
  shared machine: with no core free, its CPU time adds to the fp32 forward's (14 s instead of 6 s
  at load 3.5), and so do the other threads below;
- the canonical graph (default), about 1.1-1.3 s (onnxslim 0.84 s of it): the export matched against
  the architecture's template and rewritten in the one form every source shares (``--graph
  native``: normalising only). The canonical run spent 0.4-0.6 s more than the step timed apart:
  importing onnxslim, which a step timed in a warm process never shows (imported where the step
  needs it: a thread importing beside the forwards would make the fork of torch's forwards,
  ``converters/forked.py``, unsafe, and for Paddle it saved less than this machine's noise);
- writing the file, about 0.6 s: serialised once (``SerializeToString``, 0.45 s for 177 MB: most of
  what is left); ``onnx.checker`` reads those bytes while a thread writes and hashes them (new).
  paddle2onnx still writes its own file, read back once (0.2 s): ``paddle2onnx.export(save_file=None)``
  would hand the bytes over but skips its constant folding;
- a second interpreter: every framework call runs in a child process, so an abort or segfault
  inside Paddle ends that child only and Ctrl-C never reaches Paddle. ``parity`` starts it ahead
  (new): it imports Paddle (1-1.5 s) while the parent checks the options, imports its own modules
  and decodes the photographs (0.2 s), which therefore cost no wall time; the weights' sha256 is
  read once, in the child beside the load (new: it was read in the parent too, 0.16 s; the parent
  now hashes only to compare with an output already there). The child ends with ``os._exit`` once
  its reply is sent, so Paddle's interpreter teardown (1.5 s) is not waited for; the parent still
  waits 0.1-0.2 s for the kernel to reap it before onnxruntime starts.

Where zoocheck now spends less than the floor (new): the network is built with zero weights, not
Paddle's random draws that the floor's (a user's) code pays for (1.2 s of its 1.4 s build), as every
parameter is loaded next; and no full garbage collection after an export under 512 MiB (Paddle's
layers are freed by the cycle collector only: 0.3-0.8 s).
"""

from __future__ import annotations

import pickle
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from whole_process import canonical_step_seconds, pairs_arguments, parity_command, timed

SOURCE, MODEL = "ppcls", "resnext101_vd_32x4d"

FLOOR = r"""
import pickle, sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import paddle
import paddle2onnx
from paddle.static import InputSpec

from zoocheck.converters.paddle import build_model

entry_file, checkpoint, inputs_file, work = sys.argv[1:5]
entry = pickle.loads(Path(entry_file).read_bytes())
network = build_model(entry)
network.set_state_dict(paddle.load(checkpoint))
network.eval()
batch = np.load(inputs_file)
with paddle.no_grad():
    reference = network(paddle.to_tensor(batch)).numpy()
size = entry.input_size
paddle.jit.save(network, f"{work}/inference", input_spec=[InputSpec([None, 3, size, size], "float32", "x")])
program = next(p for p in (Path(f"{work}/inference.json"), Path(f"{work}/inference.pdmodel")) if p.exists())
paddle2onnx.export(str(program), f"{work}/inference.pdiparams", f"{work}/model.onnx", opset_version=17, enable_optimize=True)
session = ort.InferenceSession(f"{work}/model.onnx", providers=["CPUExecutionProvider"])
test = session.run(None, {session.get_inputs()[0].name: batch})[0]
span = reference.max(axis=1) - reference.min(axis=1)
rel = float((np.abs(reference - test).max(axis=1) / span).max())
assert rel < 1e-3 and (reference.argmax(1) == test.argmax(1)).all(), rel
print(f"floor: max rel err {rel:.2g}")
"""


def prepare(folder: Path, seed: int) -> tuple[Path, Path, Path]:
    """The checkpoint, the pickled registry entry and the 7 inputs zoocheck's parity feeds."""
    from zoocheck.capture import captured_text
    from zoocheck.checks.parity import model_inputs
    from zoocheck.converters.weights import random_weights, write_weights
    from zoocheck.zoo_registry import get_entry

    entry = get_entry(SOURCE, MODEL)
    checkpoint = write_weights(entry, random_weights(entry.arch, seed, entry.input_size), folder / f"{entry.builder}_pretrained.pdparams")
    entry_file = folder / "entry.pickle"
    entry_file.write_bytes(pickle.dumps(entry))
    inputs = folder / "inputs.npy"
    with captured_text():  # libpng's colour-profile warnings
        np.save(inputs, model_inputs(entry, None).batch)
    return checkpoint, entry_file, inputs


def main() -> None:
    args = pairs_arguments(__doc__, default_pairs=5)
    with tempfile.TemporaryDirectory(prefix="zoocheck-bench-") as tmp:
        folder = Path(tmp)
        checkpoint, entry_file, inputs = prepare(folder, args.seed)

        def zoocheck(run: int, *graph: str) -> list[str]:
            results = folder / f"results-{run}-{'-'.join(graph) or 'canonical'}"  # fresh: nothing reused
            return parity_command(SOURCE, MODEL, checkpoint, results, *graph, *args.extra)

        def floor(run: int) -> list[str]:
            work = folder / f"floor-{run}"
            work.mkdir()
            return [sys.executable, "-c", FLOOR, str(entry_file), str(checkpoint), str(inputs), str(work)]

        ratios: dict[str, list[float]] = {"canonical": [], "native": []}
        floors: list[float] = []
        for run in range(args.pairs):
            commands = {"floor": floor(run), "canonical": zoocheck(run), "native": zoocheck(run, "--graph", "native")}
            order = list(commands) if run % 2 == 0 else list(reversed(commands))  # alternate who goes first
            seconds = {name: timed(commands[name]) for name in order}
            floors.append(seconds["floor"])
            for name in ratios:
                ratios[name].append(seconds[name] / seconds["floor"])
            print(
                f"pair {run + 1}: floor {seconds['floor']:.1f} s, canonical {seconds['canonical']:.1f} s "
                f"({ratios['canonical'][-1]:.3f}x), native {seconds['native']:.1f} s ({ratios['native'][-1]:.3f}x)",
                flush=True,
            )
        canonical_step = canonical_step_seconds(entry_file, folder / "floor-0" / "model.onnx")
        to_floor_and_step = [c * f / (f + canonical_step) for c, f in zip(ratios["canonical"], floors)]
        print(
            f"median: canonical {statistics.median(ratios['canonical']):.3f}x, native {statistics.median(ratios['native']):.3f}x the floor; "
            f"the canonical step's own work {canonical_step:.2f} s: canonical {statistics.median(to_floor_and_step):.3f}x the floor plus it"
        )


if __name__ == "__main__":
    main()
