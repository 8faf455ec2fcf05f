"""The results store: one JSONL file of check results and one of failures, per results folder.

It is the single source of truth that reports render; nothing else keeps results. It reads and
writes the typed records of ``zoocheck.records`` only. Appends are one ``write`` of one line each
under an advisory lock, so concurrent runs do not interleave; a line that cannot be read (a crash
mid-write, a hand edit, a record of the wrong shape) is skipped and reported, never fatal.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from zoocheck.records import Failure, Record, RecordError, record_from_json

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

    def _append(self, path: Path, record: Record) -> Path:
        data = record.to_json()
        line = json.dumps(data, sort_keys=True, default=str) + "\n"
        with self._locked(), open(path, "a", encoding="utf-8") as fh:
            fh.write(line)
        return path

    def add(self, record: Record) -> Path:
        """Append ``record``: a Failure to the failure log, anything else to the results."""
        return self._append(self.failures_path if isinstance(record, Failure) else self.results_path, record)

    def add_debug_log(self, title: str, text: str) -> Path:
        """Append what a framework printed, under a header naming the run and model."""
        with self._locked(), open(self.debug_log_path, "a", encoding="utf-8") as fh:
            fh.write(f"===== {title}\n{text.rstrip()}\n")
        return self.debug_log_path

    def replace_results(self, stale: Callable[[Record], bool], records: Iterable[Record]) -> Path:
        """Drop every stored result for which ``stale`` is true and add ``records``: a re-run
        replaces its own records instead of piling up copies. Unreadable lines are kept as they are."""
        lines = [json.dumps(r.to_json(), sort_keys=True) + "\n" for r in records]
        with self._locked():
            kept = []
            if self.results_path.exists():
                for raw in self.results_path.read_text(encoding="utf-8").splitlines(keepends=True):
                    try:
                        if stale(record_from_json(json.loads(raw))):
                            continue
                    except ValueError:  # not JSON, or not a record (RecordError): kept as it is
                        pass
                    kept.append(raw if raw.endswith("\n") else raw + "\n")
            write_atomic(self.results_path, "".join(kept + lines))
        return self.results_path

    def _read(self, path: Path) -> Iterator[Record]:
        if not path.exists():
            return
        with open(path, encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    data = json.loads(line)
                except ValueError as exc:
                    self.skipped_lines.append(f"{path} line {number}: not a JSON record ({exc}); skipped")
                    continue
                try:
                    yield record_from_json(data, where=f"{path} line {number}")
                except RecordError as exc:
                    self.skipped_lines.append(f"{exc}; skipped")

    def results(self, kind: str | None = None) -> list[Record]:
        return [r for r in self._read(self.results_path) if kind is None or kind == r.KIND]

    def failures(self) -> list[Failure]:
        return list(self._read(self.failures_path))


def write_atomic(path: Path, content: str | Callable[[BinaryIO], object]) -> None:
    """Write ``path`` so that it holds either its old content or all of the new, never a part.
    ``content`` is the text (UTF-8), or a function that writes the bytes to the binary file it is
    given (``lambda fh: np.save(fh, array)``). Every file zoocheck writes whole goes through here."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
    # created 0666 less the umask, as open() creates a file (mkstemp's would stay 0600)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    write = content if callable(content) else lambda fh: fh.write(content.encode("utf-8"))
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
