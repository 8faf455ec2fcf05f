"""What the benches that time whole processes share: their command line and the timing of one."""

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
