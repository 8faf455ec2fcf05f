"""Evaluation throughput against bare onnxruntime, and the speed-up of a cached second pass.

    .venv/bin/python bench/eval_throughput.py [--images N] [--model resnet50] [--batch-size B]

1. Converts timm ``--model`` with seeded random weights to ONNX (zoocheck's own conversion).
2. Writes N JPEGs of 500x375 (crops of the real photographs bundled with scikit-image, jittered)
   into a temporary ImageFolder.
3. Bare onnxruntime: the same session settings ``zoocheck eval`` uses, on batches preprocessed
   beforehand: the ceiling.
4. ``evaluate`` on the folder with a cold preprocessed cache: the ratio to bare onnxruntime
   (target >= 0.9: decoding overlaps inference and never starves it).
5. ``evaluate`` again with the cache warm (no decoding): its speed-up over the cold pass; and the
   data pipeline alone (a model that does nothing), cold vs warm, where the cache's effect shows
   undiluted by the model.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from zoocheck.checks.evaluate import evaluate
from zoocheck.checks.imagenet import classes, read_dataset
from zoocheck.checks.images import bundled_photos
from zoocheck.checks.preprocess import preprocess_image
from zoocheck.converters.onnx_runtime import session


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_images(root: Path, count: int, seed: int = 0) -> None:
    from PIL import Image

    rng = np.random.default_rng(seed)
    photos = [Image.open(p).convert("RGB") for p in bundled_photos()]
    if not photos:
        sys.exit("scikit-image's photographs are needed: pip install scikit-image")
    wnids = [c.wnid for c in classes()]
    for i in range(count):
        photo = photos[i % len(photos)]
        w, h = photo.size
        cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        img = photo.crop((x, y, x + cw, y + ch)).resize((500, 375), Image.BILINEAR)
        arr = np.clip(np.asarray(img, np.float32) * rng.uniform(0.8, 1.2, size=3), 0, 255).astype(np.uint8)
        folder = root / wnids[int(rng.integers(0, 1000))]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(folder / f"img{i:05d}.JPEG", quality=90)


def convert_model(name: str, out: Path) -> tuple[Path, object]:
    from zoocheck.converters import find_entry
    from zoocheck.converters.pipeline import convert

    entry = find_entry("timm", name)
    conversion = convert(entry, output=out / f"{name}.onnx", random_seed=0)
    if not conversion.ok:
        sys.exit(f"conversion failed: {conversion.failure.one_line()}")
    return conversion.onnx_path, entry.preprocess


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions; the best of each is reported")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="zoocheck-bench-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        onnx_path, spec = convert_model(args.model, tmp)
        print(f"converted timm {args.model} (random weights) in {time.perf_counter() - t0:.1f} s")
        make_images(tmp / "val", args.images)
        dataset = read_dataset(tmp / "val")
        print(
            f"{len(dataset)} JPEGs 500x375 in an ImageFolder; batch {args.batch_size}; {os.cpu_count()} CPU cores; {platform.processor() or platform.machine()}"
        )

        sess = session(onnx_path)
        name = sess.get_inputs()[0].name

        def predict(batch):
            return sess.run(None, {name: batch})[0]

        # This machine may be shared: every figure is the best of --rounds interleaved runs.
        batches = np.stack([preprocess_image(s.path, spec) for s in dataset.samples])
        predict(batches[: args.batch_size])  # warm-up
        bare, cold, warm, cpu = [], [], [], {"bare": [], "cold": [], "warm": []}
        for r in range(args.rounds):
            c0, t0 = cpu_seconds(), time.perf_counter()
            for i in range(0, len(batches), args.batch_size):
                predict(batches[i : i + args.batch_size])
            bare.append(len(batches) / (time.perf_counter() - t0))
            cpu["bare"].append((cpu_seconds() - c0) / len(batches))
            common = dict(source="timm", model=args.model, batch_size=args.batch_size, cache_dir=tmp / f"cache{r}")
            c0 = cpu_seconds()
            first = evaluate(dataset, spec, predict, **common)
            c1 = cpu_seconds()
            second = evaluate(dataset, spec, predict, **common)
            cpu["cold"].append((c1 - c0) / first.images)
            cpu["warm"].append((cpu_seconds() - c1) / second.images)
            assert second.decoded_images == 0 and (second.top1, second.top5) == (first.top1, first.top5)
            cold.append(first.throughput)
            warm.append(second.throughput)
            print(
                f"  round {r + 1}: bare {bare[-1]:.2f}, evaluate cold cache {cold[-1]:.2f}, warm cache {warm[-1]:.2f} img/s; "
                f"CPU ms/img {1000 * cpu['bare'][-1]:.0f} / {1000 * cpu['cold'][-1]:.0f} / {1000 * cpu['warm'][-1]:.0f}"
            )
        del batches
        bare, cold, warm = max(bare), max(cold), max(warm)
        cpu = {k: min(v) for k, v in cpu.items()}
        print(f"bare onnxruntime:            {bare:7.2f} img/s")
        print(f"evaluate, cold cache:        {cold:7.2f} img/s   ratio to bare onnxruntime {cold / bare:.3f} (target >= 0.9)")
        print(f"evaluate, warm cache:        {warm:7.2f} img/s   speed-up over cold {warm / cold:.3f}x; ratio to bare {warm / bare:.3f}")
        # On a machine shared with other work, wall-clock ratios are noisy; CPU time per image is
        # not: its ratio is the throughput ratio of a dedicated, CPU-bound machine.
        print(
            f"CPU time per image:          bare {1000 * cpu['bare']:.1f} ms, evaluate cold {1000 * cpu['cold']:.1f} ms "
            f"(ratio {cpu['bare'] / cpu['cold']:.3f}), warm {1000 * cpu['warm']:.1f} ms (ratio {cpu['bare'] / cpu['warm']:.3f})"
        )

        def nothing(batch):
            return np.zeros((len(batch), 1000), np.float32)

        common = dict(source="timm", model=args.model, batch_size=args.batch_size, cache_dir=tmp / "cache-pipeline")
        p_cold = evaluate(dataset, spec, nothing, **common)
        p_warm = evaluate(dataset, spec, nothing, **common)
        print(f"data pipeline alone, cold:   {p_cold.throughput:7.1f} img/s (decode + resize + crop + normalise)")
        print(f"data pipeline alone, warm:   {p_warm.throughput:7.1f} img/s   cache speed-up {p_warm.throughput / p_cold.throughput:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
