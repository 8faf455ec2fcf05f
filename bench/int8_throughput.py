"""What int8 buys: onnxruntime throughput of an int8 variant against its fp32 file, measured in
one run on the same inputs, alternating the two so that a busy machine slows both alike. Prints
images/s of each and the ratio int8 / fp32 (also for fp16, which a CPU runs through casts: it is
there to show that fp16 is a GPU format). Where the CPU lacks int8 dot-product instructions (VNNI), int8 can be
slower than fp32: measured here on 2 cores, resnet18 batch 8, int8 0.67x fp32.

The fp32 file is converted here (random weights: throughput does not depend on the values) unless
one is given; the variants are made by ``zoocheck quantize``'s library function.

    PYTHONPATH=. .venv/bin/python bench/int8_throughput.py [--src torchvision --model resnet50] [--onnx FILE] [--batch 8] [--rounds 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from zoocheck.checks.runs import convert_entry, variant_of_file
from zoocheck.converters.onnx_runtime import session
from zoocheck.identity import onnx_metadata
from zoocheck.store import ResultsStore
from zoocheck.zoo_registry import get_entry


def images_per_second(sess, batch: np.ndarray, seconds: float) -> float:
    name = sess.get_inputs()[0].name
    sess.run(None, {name: batch})  # warm-up
    done, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        sess.run(None, {name: batch})
        done += len(batch)
    return done / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", default="torchvision")
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--onnx", help="an fp32 file zoocheck wrote (default: convert --src/--model with random weights)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of each file")
    parser.add_argument("--seconds", type=float, default=2.0, help="per file per round")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zoocheck-int8-bench-") as tmp:
        store = ResultsStore(Path(tmp) / "results")
        fp32 = Path(args.onnx) if args.onnx else None
        if fp32 is None:
            conversion = convert_entry(get_entry(args.src, args.model), store, weights=None, random_seed=0)
            if conversion.failure is not None:
                raise SystemExit(f"conversion failed: {conversion.failure.one_line()}")
            fp32 = conversion.onnx_path
        files = {"fp32": fp32}
        for precision in ("int8", "fp16"):
            outcome = variant_of_file(fp32, precision, store, output=Path(tmp) / f"variant.{precision}.onnx")
            if outcome.failure is not None:
                raise SystemExit(f"{precision} variant failed: {outcome.failure.one_line()}")
            files[precision] = outcome.path
        sessions = {name: session(path) for name, path in files.items()}
        size = onnx_metadata(fp32).input_size
        batch = np.random.default_rng(0).standard_normal((args.batch, 3, size, size), dtype=np.float32)
        rates: dict[str, list[float]] = {name: [] for name in files}
        for _ in range(args.rounds):
            for name, sess in sessions.items():
                rates[name].append(images_per_second(sess, batch, args.seconds))
    median = {name: float(np.median(r)) for name, r in rates.items()}
    print(f"{fp32.name}, batch {args.batch}, {args.rounds} alternating rounds of {args.seconds:g} s (median images/s):")
    for name in files:
        print(f"  {name}: {median[name]:.1f} img/s")
    print(f"int8 / fp32 throughput: {median['int8'] / median['fp32']:.2f}x")
    print(f"fp16 / fp32 throughput: {median['fp16'] / median['fp32']:.2f}x")


if __name__ == "__main__":
    main()
