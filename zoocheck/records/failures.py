"""Failures: why a model could not be converted or checked, in zoocheck's words, with the
library's own text kept apart (its first line shortened on the terminal, all of it in the log)."""

from __future__ import annotations

import re
import sysconfig
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from zoocheck.errors import BadInput
from zoocheck.records.codec import Record, utc_now

#: where in the pipeline a failure happened
STAGES = ("load", "build", "export", "check", "parity", "eval")


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # zoocheck/, whose frames are not the library's
_STDLIB_DIR = Path(sysconfig.get_paths()["stdlib"]).resolve()


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, terminal colour codes removed; "" where there is none."""
    lines = [line for line in _strip_ansi(text).strip().splitlines() if line.strip()]
    return lines[0].strip() if lines else ""


def exception_line(exc: BaseException) -> str:
    """An exception in one line: its message's first line, or its type where it has no message."""
    return first_line(str(exc)) or type(exc).__name__


def _raised_in(exc: BaseException) -> str | None:
    """The top-level package (or, outside any, the file) whose code raised ``exc``; None for
    zoocheck's own code, or no traceback."""
    tb = exc.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = Path(tb.tb_frame.f_code.co_filename)
    if filename.resolve().is_relative_to(_PACKAGE_DIR):
        return None
    parts = filename.parts
    if "site-packages" in parts and parts.index("site-packages") + 1 < len(parts):
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    if str(filename).startswith("<") or filename.resolve().is_relative_to(_STDLIB_DIR):  # "<frozen ...>" too
        return "the Python standard library"
    return filename.name  # code of the user's own (a plugin source's converter, a script)


#: the most of a library's message the one line shows
LIBRARY_LINE_CHARS = 160
_ERROR_LINE = re.compile(r"[\w.]*(Error|Exception): ")  # a qualified class too: mxnet.base.MXNetError


def _library_line(text: str) -> str:
    """What a library's message says went wrong, in one line of at most LIBRARY_LINE_CHARS: its
    first line, or in a text holding a traceback (MXNet, Paddle) the last ``SomeError: ...`` line;
    empty when there is none."""
    lines = [line.strip() for line in _strip_ansi(text).splitlines() if line.strip()]
    if any("Traceback" in line for line in lines):
        lines = [line for line in lines if _ERROR_LINE.match(line)][-1:]
    line = lines[0] if lines else ""
    return line if len(line) <= LIBRARY_LINE_CHARS else line[: LIBRARY_LINE_CHARS - 3] + "..."


def _in_own_words(exc: BaseException) -> tuple[str, str]:
    """(one line for the user, the library's own text). zoocheck's messages are shown as they are;
    a library's by its line that says what went wrong, shortened (no traceback, no ANSI colour
    codes), the whole text in the detail."""
    library = _raised_in(exc)
    if library is None:
        cause = exc.__cause__ or exc.__context__
        return exception_line(exc), _strip_ansi(str(cause)).strip()[-4000:] if cause else ""
    detail = _strip_ansi(str(exc)).strip()
    said = _library_line(detail)
    if not said:
        return f"{type(exc).__name__} raised inside {library} (its message is in the failure log; --verbose shows it)", detail[-4000:]
    rest = "" if said == detail else " (--verbose shows all it said)"
    return f"{type(exc).__name__} raised inside {library}: {said}{rest}", detail[-4000:]


@dataclass(frozen=True)
class Failure(Record):
    """Why a model could not be converted or checked: one record of the failure log."""

    KIND: ClassVar[str] = "failure"

    source: str
    model: str
    stage: str  # one of STAGES
    exception_type: str
    message: str
    traceback_tail: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    time: str = field(default_factory=utc_now)
    # set by a sweep: the failure taxonomy category, the job's key and its step (convert / parity
    # / eval), and for a parity failure whether it is the fp32 noise of random weights
    category: str | None = None
    job: str | None = None
    step: str | None = None
    fp32_noise: bool | None = None
    detail: str = ""  # what the library itself said (shown with --verbose; never in the one line)
    bad_input: bool = False  # the input (a weights file, an ONNX file) is unusable: exit 2, not 1
    command: str = ""  # the zoocheck command that reproduces it, where the run that failed knows it (a sweep's job)

    @classmethod
    def from_exception(
        cls, source: str, model: str, stage: str, exc: BaseException, versions: dict | None = None, fix: str = ""
    ) -> Failure:
        """The failure record of ``exc``: its message when zoocheck wrote it, else a line naming the
        library that raised it (the library's own text goes to ``detail``), plus ``fix``."""
        tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
        message, detail = _in_own_words(exc)
        if fix:
            message = f"{message}; {fix}"
        return cls(
            source,
            model,
            stage,
            type(exc).__name__,
            message,
            _strip_ansi(tail)[-4000:],
            dict(versions or {}),
            detail=detail,
            bad_input=isinstance(exc, BadInput),
        )

    def one_line(self) -> str:
        return f"{self.source}/{self.model}: {self.stage} failed: {self.message}"
