"""How long building the registry takes (what `zoocheck list` pays before printing), in a fresh
interpreter each round: best and median of the rounds, and the whole `zoocheck list` command."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

ROUNDS = 5
CODE = (
    "import time; t = time.perf_counter();"
    "from zoocheck.zoo_registry import list_entries, SOURCES, _name_index;"
    "list_entries(); [_name_index(s) for s in SOURCES];"
    "print(time.perf_counter() - t)"
)


def main() -> None:
    builds = [float(subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True).stdout) for _ in range(ROUNDS)]
    commands = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "zoocheck", "list"], capture_output=True, check=True)
        commands.append(time.perf_counter() - start)
    print(f"registry build: best {min(builds) * 1e3:.0f} ms, median {statistics.median(builds) * 1e3:.0f} ms ({ROUNDS} fresh interpreters)")
    print(f"zoocheck list, whole command: best {min(commands) * 1e3:.0f} ms, median {statistics.median(commands) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
