"""Sweep benchmark (issue 12): ratios measured in one run on this machine, random weights,
convert + parity.

1. ``zoocheck sweep`` wall time against the sum of the same models run one by one as today
   (one ``zoocheck parity`` per model: a fresh interpreter and converter child each); target <= 0.6.
2. A second, unchanged sweep against the first; target < 5%.
3. Per-model cost breakdown (framework start, load, export, normalisation, framework forward,
   onnxruntime forward, checks), each model in a fresh interpreter so framework start is real.
4. ``--executor ray`` (a local cluster started by the sweep, its start-up included) against the
   local executor at the same parallelism; target overhead <= 10%.

Every figure comes from processes started here, each in its own results folder. The default subset
is small (one ResNet-18 per framework family, two torch sources so a torch worker is reused); pass
``--model source/name ...`` to measure others. The whole registry is the issue's target and is not
run by default (the machine is shared).

    .venv/bin/python bench/sweep_bench.py [--workers 2] [--model torchvision/resnet18.IMAGENET1K_V1 ...]

Measured on this 2-core machine, quiet, default subset, workers 2: one by one 34.5 s; sweep
20.1 s = 0.58 of it; second sweep 0.4 s = 1.9% of the first; Ray 18.6 s against local 20.1 /
20.4 s (-7.3%). Per model (ResNet-18s, fresh interpreter): framework start 0.8-3.0 s, build with
random weights 1.2-2.0 s, framework forwards (fp32 + fp64) 0.5-1.5 s, export 0.6-2.9 s,
canonicalise + write 0.5-0.7 s, onnxruntime 0.2-0.4 s, 5.7-7.8 s in all.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBSET = ("torchvision/resnet18.IMAGENET1K_V1", "timm/resnet18d.ra2_in1k", "ppcls/ResNet18", "gluon/resnet18_v1")

# Times the pieces of one conversion + parity check in a fresh interpreter through the pipeline's
# own stages (convert's on_stage, in-process); prints one JSON object.
_BREAKDOWN = r"""
import json, sys, tempfile, time
from pathlib import Path
source, name = sys.argv[1].split("/", 1)
t = {}
mark = time.perf_counter()
stage = "imports"
def enter(next_stage):
    global mark, stage
    now = time.perf_counter(); t[stage] = t.get(stage, 0.0) + now - mark; mark, stage = now, next_stage
from zoocheck.zoo_registry import get_entry
from zoocheck.checks.parity import model_inputs, compare_batches
from zoocheck.converters.pipeline import convert
from zoocheck.converters.onnx_runtime import run_first_output, session
entry = get_entry(source, name)
enter("preprocessing")
inputs = model_inputs(entry, None)
# the pipeline's stages: load = the framework's import and checks, build = the model and its random
# weights, parity = the framework's fp32 and fp64 forwards, export, check = canonical graph + write
stages = {"load": "framework start", "build": "build (random weights)", "parity": "framework forwards", "export": "export", "check": "canonicalise + write"}
with tempfile.TemporaryDirectory() as tmp:
    out = Path(tmp) / "model.onnx"
    conversion = convert(entry, output=out, random_seed=0, inputs=inputs.batch, isolate=False, on_stage=lambda s: enter(stages.get(s, s)))
    assert conversion.ok, conversion.failure
    enter("onnxruntime forward")
    test = run_first_output(session(out), inputs.batch)
    enter("checks")
    compare_batches(inputs.names, conversion.native_outputs, test)
    if conversion.native_outputs_fp64 is not None:
        compare_batches(inputs.names, conversion.native_outputs_fp64, test)
    enter("end")
print(json.dumps(t))
"""


def zoocheck(*args: str, env: dict | None = None) -> float:
    """Wall time of one ``zoocheck`` command (exit 0 or 1: a failed check is still a run)."""
    began = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "zoocheck", *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    if proc.returncode not in (0, 1):
        raise SystemExit(f"zoocheck {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
    return time.perf_counter() - began


def breakdown(key: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _BREAKDOWN, key], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", nargs="+", default=list(SUBSET), help="source/name keys (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="sweep parallelism, local and Ray alike (default 2)")
    args = parser.parse_args()
    env = {**os.environ, "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled")}
    print(
        f"models: {len(args.model)} ({', '.join(args.model)}); random weights; steps convert,parity; sweep workers {args.workers}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="zoocheck-sweep-bench-") as tmp:
        tmp = Path(tmp)
        one_by_one = {}
        for key in args.model:
            source, name = key.split("/", 1)
            one_by_one[key] = zoocheck(
                "parity", "--src", source, "--model", name, "--random-weights", "--results", str(tmp / "one-by-one"), env=env
            )
        total = sum(one_by_one.values())
        print(
            f"one by one as today (zoocheck parity per model): {total:.1f} s  [{', '.join(f'{k} {v:.1f}' for k, v in one_by_one.items())}]",
            flush=True,
        )
        sweep = ["sweep", "--model", *args.model, "--random-weights", "--workers", str(args.workers)]
        first = zoocheck(*sweep, "--results", str(tmp / "sweep"), env=env)
        print(f"sweep, first run: {first:.1f} s = {first / total:.2f} of one by one  (target <= 0.6)", flush=True)
        second = zoocheck(*sweep, "--results", str(tmp / "sweep"), env=env)
        print(f"second, unchanged sweep: {second:.1f} s = {100 * second / first:.1f}% of the first  (target < 5%)", flush=True)
        ray = zoocheck(*sweep, "--executor", "ray", "--results", str(tmp / "ray"), env=env)
        # local once more after Ray: the machine is shared, so the drift between runs shows
        local_again = zoocheck(*sweep, "--results", str(tmp / "sweep-again"), env=env)
        local = min(first, local_again)
        print(
            f"ray executor (local cluster start included): {ray:.1f} s; local {first:.1f} s and {local_again:.1f} s; ray vs the faster local: {100 * (ray / local - 1):+.1f}%  (target <= 10%)",
            flush=True,
        )
    print("per-model cost breakdown (s), each model in a fresh interpreter:", flush=True)
    for key in args.model:
        try:
            cost = breakdown(key)
        except subprocess.CalledProcessError as exc:
            print(f"  {key}: the breakdown script failed: {exc.stderr.strip().splitlines()[-1] if exc.stderr else exc}", flush=True)
            continue
        print(f"  {key}: " + ", ".join(f"{k} {v:.2f}" for k, v in cost.items()) + f"; total {sum(cost.values()):.2f}", flush=True)


if __name__ == "__main__":
    main()
