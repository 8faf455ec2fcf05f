"""The results store: one JSONL file of check results and one of failures, per results folder.

It is the single source of truth that reports render; nothing else keeps results. Appends are
one ``write`` of one line each under an advisory lock, so concurrent runs do not interleave; a
line that cannot be read (a crash mid-write, a hand edit) is skipped and reported, never fatal.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_DIR = "zoocheck-results"


def results_dir(explicit: str | Path | None = None) -> Path:
    return Path(explicit or os.environ.get("ZOOCHECK_RESULTS") or DEFAULT_DIR)


class ResultsStore:
    def __init__(self, directory: str | Path | None = None):
        self.directory = results_dir(directory)
        self.results_path = self.directory / "results.jsonl"
        self.failures_path = self.directory / "failures.jsonl"
        #: what the frameworks printed during this results folder's runs (shown with --verbose)
        self.debug_log_path = self.directory / "debug.log"
        #: "results.jsonl line 7: not JSON (...), skipped": unreadable lines the readers passed over
        self.skipped_lines: list[str] = []

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Exclusive use of the store's files. The lock is a file of its own, so the results file
        can be replaced (``replace_results``) under it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def _append(self, path: Path, record: dict) -> Path:
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        with self._locked(), open(path, "a", encoding="utf-8") as fh:
            fh.write(line)
        return path

    def add_result(self, record: dict) -> Path:
        return self._append(self.results_path, record)

    def add_failure(self, record: dict) -> Path:
        return self._append(self.failures_path, record)

    def add_debug_log(self, title: str, text: str) -> Path:
        """Append what a framework printed, under a header naming the run and model."""
        with self._locked(), open(self.debug_log_path, "a", encoding="utf-8") as fh:
            fh.write(f"===== {title}\n{text.rstrip()}\n")
        return self.debug_log_path

    def replace_results(self, stale: Callable[[dict], bool], records: Iterable[dict]) -> Path:
        """Drop every stored result for which ``stale`` is true and add ``records``: a re-run
        replaces its own records instead of piling up copies. Unreadable lines are kept as they are."""
        lines = [json.dumps(r, sort_keys=True, default=str) + "\n" for r in records]
        with self._locked():
            kept = []
            if self.results_path.exists():
                for raw in self.results_path.read_text(encoding="utf-8").splitlines(keepends=True):
                    try:
                        if stale(json.loads(raw)):
                            continue
                    except ValueError:
                        pass
                    kept.append(raw if raw.endswith("\n") else raw + "\n")
            write_atomic(self.results_path, "".join(kept + lines))
        return self.results_path

    def _read(self, path: Path) -> Iterator[dict]:
        if not path.exists():
            return
        with open(path, encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    self.skipped_lines.append(f"{path} line {number}: not a JSON record ({exc}); skipped")
                    continue
                if not isinstance(record, dict):
                    self.skipped_lines.append(f"{path} line {number}: not a JSON object; skipped")
                    continue
                yield record

    def results(self, kind: str | None = None) -> list[dict]:
        return [r for r in self._read(self.results_path) if kind is None or r.get("kind") == kind]

    def failures(self) -> list[dict]:
        return list(self._read(self.failures_path))


def write_atomic(path: Path, text: str) -> None:
    """Write ``path`` so that it holds either its old content or all of ``text``, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
