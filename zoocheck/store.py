"""The results store: one JSONL file of check results and one of failures, per results folder.

It is the single source of truth that reports render; nothing else keeps results. Appends are
one ``write`` of one line each under an advisory lock, so concurrent runs do not interleave.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

DEFAULT_DIR = "zoocheck-results"


def results_dir(explicit: str | Path | None = None) -> Path:
    return Path(explicit or os.environ.get("ZOOCHECK_RESULTS") or DEFAULT_DIR)


class ResultsStore:
    def __init__(self, directory: str | Path | None = None):
        self.directory = results_dir(directory)
        self.results_path = self.directory / "results.jsonl"
        self.failures_path = self.directory / "failures.jsonl"

    def _append(self, path: Path, record: dict) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        with open(path, "a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.write(line)
        return path

    def add_result(self, record: dict) -> Path:
        return self._append(self.results_path, record)

    def add_failure(self, record: dict) -> Path:
        return self._append(self.failures_path, record)

    @staticmethod
    def _read(path: Path) -> Iterator[dict]:
        if not path.exists():
            return
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if line:
                    yield json.loads(line)

    def results(self, kind: str | None = None) -> list[dict]:
        return [r for r in self._read(self.results_path) if kind is None or r.get("kind") == kind]

    def failures(self) -> list[dict]:
        return list(self._read(self.failures_path))
