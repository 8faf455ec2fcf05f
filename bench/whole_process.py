"""What the benches that time whole processes share: their command line, the timing of one, and the
canonical step's own work timed apart."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path


def pairs_arguments(doc: str, default_pairs: int) -> argparse.Namespace:
    """``--pairs`` (alternating runs of each command), ``--seed`` of the random checkpoint, and the
    further zoocheck options after ``--``."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=default_pairs)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("extra", nargs="*", help="more zoocheck parity options")
    return parser.parse_args()


def parity_command(source: str, model: str, weights: Path, results: Path, *options: str) -> list[str]:
    """``zoocheck parity`` of ``weights`` as a fresh interpreter runs it, into a ``results`` folder
    of its own (nothing reused between runs)."""
    return [
        sys.executable,
        "-m",
        "zoocheck",
        "parity",
        "--src",
        source,
        "--model",
        model,
        "--weights",
        str(weights),
        "--results",
        str(results),
        *options,
    ]


def timed(argv: list[str]) -> float:
    """Wall seconds of ``argv`` run to its end; a failure ends the bench with its output."""
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv[:6])} ... failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed


#: the canonical step's own work, timed apart on an export: making the file canonical
#: (``finish_graph``, canonical) less normalising it alone (native), best of three
_CANONICAL_STEP = r"""
import pickle, sys, time
from pathlib import Path

from zoocheck.converters.graph import finish_graph

entry_file, onnx_file = sys.argv[1:3]
arch = pickle.loads(Path(entry_file).read_bytes()).arch

def seconds(form):
    start = time.perf_counter()
    finish_graph(onnx_file, arch, form)
    return time.perf_counter() - start

print(min(seconds("canonical") for _ in range(3)) - min(seconds("native") for _ in range(3)))
"""


def canonical_step_seconds(entry_file: Path, onnx_file: Path) -> float:
    """The canonical step's own seconds on ``onnx_file``, an export of the pickled entry's model."""
    step = subprocess.run(
        [sys.executable, "-c", _CANONICAL_STEP, str(entry_file), str(onnx_file)], capture_output=True, text=True, check=True
    )
    return float(step.stdout.split()[-1])
