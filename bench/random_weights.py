"""How long zoocheck's one random-weights scheme (converters/weights/random.py) takes to draw and
calibrate a network at its published input size: what every ``--random-weights`` conversion pays
before the framework loads the weights. Best of the rounds, each with its own seed (the last draw
is kept, so a repeated seed would time a copy); numpy's BLAS uses every core it may."""

from __future__ import annotations

import sys
import time

from zoocheck.converters.weights import random_weights
from zoocheck.zoo_registry.names import timm_style

ROUNDS = 3
MODELS = ("resnet18", "resnet50", "resnext101_32x4d")


def main(names: list[str]) -> None:
    for name in names or MODELS:
        arch = timm_style(name)
        times = []
        for seed in range(ROUNDS):
            start = time.perf_counter()
            random_weights(arch, seed, 224)
            times.append(time.perf_counter() - start)
        print(f"{name} ({arch.id}) at 224: best {min(times):.2f} s of {ROUNDS}")


if __name__ == "__main__":
    main(sys.argv[1:])
