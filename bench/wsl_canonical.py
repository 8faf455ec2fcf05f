"""A full-size canonical conversion of a >2 GB model: PaddleClas's ResNeXt101_32x48d_wsl (829 M
parameters, 3.3 GB of float32 weights), seeded random weights, through zoocheck's whole pipeline.

    nice .venv/bin/python bench/wsl_canonical.py [--output-dir DIR] [--memory-floor-gib 3]

Prints the wall time, the converter child's peak RSS, the files written and their sizes, whether
the canonical file's structure fingerprint is the architecture's, whether ``onnx.checker`` (path
based, which reads external data) passes with ``full_check``, and parity (onnxruntime on the file
vs Paddle's own forward, max |diff| / logit range, on one photograph and one random tensor).

Measured here (2 cores, a whole-registry sweep running beside it, nice 10): Paddle's build with
the common random weights 275 s, its forward (parity inputs) 59 s, export 68 s, the check stage
(load, lift the convolution weights out of the protobuf, fold, onnxslim, fill the template, write
the .onnx + 3.3 GB .onnx.data) 59 s; converted in 469 s, converter child peak RSS 6.8 GiB (2.2
times the weights; before the weights were lifted the check stage alone went past 15.6 GiB).
Fingerprint the architecture's, onnx.checker full_check passes, parity vs Paddle 2.2e-6 of the
logit range on both inputs, same top-1.

A watchdog thread kills the converter child when the machine's available memory falls below
``--memory-floor-gib``, so a shared machine is never driven out of memory, and the run prints how
much it held. One run, by hand; not part of any test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

GIB = 2**30


def available_memory() -> int:
    with open("/proc/meminfo") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["MemAvailable"].split()[0]) * 1024


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (from /proc's parent links)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for child in parents.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Watchdog(threading.Thread):
    """Polls this process tree's RSS; kills the tree's children when available memory falls below
    ``floor`` bytes."""

    def __init__(self, floor: int):
        super().__init__(daemon=True)
        self.floor = floor
        self.peak_tree_rss = 0
        self.tripped: str | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self.stop.wait(0.5):
            children = descendants(me)
            tree = rss(me) + sum(rss(c) for c in children)
            self.peak_tree_rss = max(self.peak_tree_rss, tree)
            free = available_memory()
            if free < self.floor:
                self.tripped = (
                    f"available memory {free / GIB:.1f} GiB < floor {self.floor / GIB:.1f} GiB with this run holding {tree / GIB:.1f} GiB"
                )
                for child in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child, signal.SIGKILL)
                return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", type=Path, default=None, help="where to write (default: a temporary folder, removed)")
    parser.add_argument("--memory-floor-gib", type=float, default=3.0)
    args = parser.parse_args()

    import onnx

    from zoocheck.capture import captured_text
    from zoocheck.checks.images import bundled_photos, random_inputs
    from zoocheck.checks.preprocess import preprocess_image
    from zoocheck.converters.graph import canonical_fingerprint
    from zoocheck.converters.graph.fingerprint import fingerprint
    from zoocheck.converters.normalize import read_metadata
    from zoocheck.converters.onnx_runtime import run_first_output, session
    from zoocheck.converters.pipeline import DEFAULT_OPSET, convert
    from zoocheck.zoo_registry import get_entry

    entry = get_entry("ppcls", "ResNeXt101_32x48d_wsl")
    with captured_text():  # libpng's warnings about the photograph's colour profile
        photo = preprocess_image(bundled_photos()[0], entry.preprocess)[None]
    batch = np.concatenate([photo, random_inputs(1, entry.input_size, seed=0)])
    print(f"{entry.key}: {entry.arch.id}, input {entry.input_size}; available memory {available_memory() / GIB:.1f} GiB", flush=True)

    watchdog = Watchdog(int(args.memory_floor_gib * GIB))
    watchdog.start()
    with tempfile.TemporaryDirectory(prefix="zoocheck-wsl-") as scratch:
        out_dir = args.output_dir or Path(scratch)
        out = out_dir / f"{entry.name}.onnx"
        start = time.perf_counter()

        def on_stage(stage: str) -> None:
            print(
                f"  {time.perf_counter() - start:6.0f} s  {stage} (this run holds {watchdog.peak_tree_rss / GIB:.1f} GiB at most so far)",
                flush=True,
            )

        conversion = convert(entry, output=out, random_seed=0, inputs=batch, graph="canonical", on_stage=on_stage)
        convert_s = time.perf_counter() - start
        child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        if watchdog.tripped:
            print(f"stopped after {convert_s:.0f} s: {watchdog.tripped}")
            return 1
        if not conversion.ok:
            print(f"conversion failed after {convert_s:.0f} s: {conversion.failure.message}\n{conversion.failure.detail or ''}")
            return 1
        print(f"converted in {convert_s:.0f} s; converter child peak RSS {child_peak / GIB:.1f} GiB")
        for path in sorted(out_dir.iterdir()):
            print(f"  {path.name}: {path.stat().st_size / 1e6:,.1f} MB")

        header = onnx.load(str(out), load_external_data=False)
        meta = read_metadata(out)
        expected = canonical_fingerprint(entry.arch, DEFAULT_OPSET)
        print(
            f"graph {meta['graph']}; fingerprint is the architecture's: {fingerprint(header) == meta['structure_fingerprint'] == expected}"
        )
        start = time.perf_counter()
        try:
            onnx.checker.check_model(str(out), full_check=True)
            print(f"onnx.checker (path, full_check) passed in {time.perf_counter() - start:.0f} s")
        except Exception as exc:  # the figure to report, whatever the checker raises
            print(f"onnx.checker (path, full_check) FAILED: {str(exc).splitlines()[0]}")

        start = time.perf_counter()
        test = run_first_output(session(out), batch)
        reference = conversion.native_outputs.astype(np.float64)
        rel = np.abs(test - reference).max(axis=1) / np.ptp(reference, axis=1)
        print(
            f"parity (onnxruntime vs Paddle, {time.perf_counter() - start:.0f} s): max rel err per input {', '.join(f'{r:.2g}' for r in rel)}; "
            f"logit range {', '.join(f'{r:.3g}' for r in np.ptp(reference, axis=1))}; same top-1: {bool((test.argmax(1) == reference.argmax(1)).all())}"
        )
    watchdog.stop.set()
    print(f"peak RSS of this process tree (polled): {watchdog.peak_tree_rss / GIB:.1f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
