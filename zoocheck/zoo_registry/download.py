"""Where weights live on disk, and fetching them there.

``fetch(entry)`` downloads an entry's published weights into the cache (``$ZOOCHECK_CACHE``, else the
user cache directory), under ``<cache>/<source>/<file name>``:

- the transfer goes to ``<name>.part``; an interrupted transfer leaves it there and the next call
  resumes it with an HTTP Range request;
- the checksum as the zoo publishes it (full sha256, the sha256 prefix in torch-hub / OpenMMLab file
  names, MXNet/GluonCV's sha1 of the ``.params`` inside the zip) is verified before the file gets its
  final name, so nothing unverified is ever loaded from the cache; a mismatch deletes the file;
- the final name appears atomically (``os.replace``).

Errors are ``FetchError`` with a one-line message that says what failed and what to do (including,
offline, which URL to download and where to put the file).
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from zoocheck.digests import file_digest
from zoocheck.zoo_registry.types import Checksum, Entry

CHUNK = 1 << 20
USER_AGENT = "zoocheck (+https://github.com/; weights fetch)"


def cache_dir() -> Path:
    """``$ZOOCHECK_CACHE``, else the user cache directory (``~/.cache/zoocheck`` on Linux)."""
    explicit = os.environ.get("ZOOCHECK_CACHE")
    if explicit:
        return Path(explicit)
    import platformdirs

    return Path(platformdirs.user_cache_dir("zoocheck"))


def cached_weights_path(entry: Entry) -> Path | None:
    """The path ``zoocheck fetch`` writes ``entry``'s weights to; None when no weights are published."""
    if entry.weights is None:
        return None
    return cache_dir() / entry.source / entry.weights.file_name


class FetchError(RuntimeError):
    """A download that could not complete; the message is one line naming the cause and the fix."""


class ChecksumMismatch(FetchError):
    """A file that is not the published one; ``mismatch``: 'expected <published>, found <its digest>'."""

    def __init__(self, message: str, mismatch: str = ""):
        super().__init__(message)
        self.mismatch = mismatch


def verify(path: Path, checksum: Checksum | None) -> bool:
    """True when ``path`` matches ``checksum``; False when there is no checksum to check against.
    Raises ChecksumMismatch when it does not match."""
    if checksum is None:
        return False
    digest = file_digest(path, checksum.algorithm)
    if not checksum.matches(digest):
        shown = digest[: len(checksum.value)] if checksum.kind == "prefix" else digest
        mismatch = f"expected {checksum}, found {checksum.algorithm}={shown}"
        raise ChecksumMismatch(f"checksum mismatch for {path.name}: {mismatch}", mismatch)
    return True


def is_published_file(entry: Entry, path: Path) -> bool:
    """Whether ``path`` holds the weights file the zoo publishes for ``entry``: its checksum is the
    registry's or, for a zoo that publishes none, it is the file ``zoocheck fetch`` downloaded into
    the cache. False for any other file (results from it are not the published model's)."""
    path = Path(path)
    if entry.weights is None or not path.is_file():
        return False
    if entry.weights.checksum is None:
        return path.resolve() == cached_weights_path(entry).resolve()
    return entry.weights.checksum.matches(file_digest(path, entry.weights.checksum.algorithm))


def cached_weights(entry: Entry) -> Path | None:
    """``entry``'s weights file in the cache, verified against the published checksum (where the
    zoo publishes one); None when there is none. A file there that fails its checksum (a copy put
    there by hand, a damaged disk) is never loaded: ChecksumMismatch says so, with the fix."""
    path = cached_weights_path(entry)
    if path is None or not path.is_file():
        return None
    try:
        verify(path, entry.weights.checksum)
    except ChecksumMismatch as exc:
        raise ChecksumMismatch(
            f"{path}: the cached weights of {entry.key} fail their checksum ({exc.mismatch}), so they are not the "
            f"published file; download them again with `zoocheck fetch --src {entry.source} --model {entry.name} --force`",
            exc.mismatch,
        ) from None
    return path


def fetch(entry: Entry, *, url: str | None = None, progress: bool = True, force: bool = False, timeout: float = 30.0) -> Path:
    """Download ``entry``'s weights into the cache (resuming a partial download) and verify them.

    Returns the verified (or, for zoos that publish no checksum, unverifiable) file's path. ``url``
    overrides the published address: a mirror, or a local file (a path or ``file:`` URL). Raises FetchError.
    """
    if entry.weights is None:
        raise FetchError(f"{entry.key}: the zoo publishes no weights file for this model")
    dest = cached_weights_path(entry)
    assert dest is not None
    given_url = url is not None
    url = _openable(url or entry.weights.url)
    checksum = entry.weights.checksum
    if dest.exists() and not force:
        try:
            verify(dest, checksum)
            return dest
        except ChecksumMismatch:
            dest.unlink()  # a damaged cached file: fetch it again
    dest.parent.mkdir(parents=True, exist_ok=True)
    download_name = url.rsplit("/", 1)[-1].split("?", 1)[0] or dest.name
    archive = download_name.endswith(".zip") and not dest.name.endswith(".zip")
    part = dest.parent / ((download_name if archive else dest.name) + ".part")
    if force and part.exists():
        part.unlink()
    _download(url, part, dest, progress=progress, timeout=timeout)
    try:
        if archive:  # MXNet / GluonCV: the sha1 is of the .params inside the zip
            extracted = dest.parent / (dest.name + ".part")
            _extract(part, dest.name, extracted)
            part.unlink()
            part = extracted
        verify(part, checksum)
    except ChecksumMismatch as exc:
        part.unlink(missing_ok=True)
        fix = (
            "give --url a copy of that file, or leave --url out to download the published one"
            if given_url
            else "run the fetch again (a damaged transfer), or give --url a mirror of that file"
        )
        raise ChecksumMismatch(
            f"checksum mismatch: what {url} holds is not {entry.key}'s published {entry.weights.file_name} ({exc.mismatch}); it was removed: {fix}",
            exc.mismatch,
        ) from None
    os.replace(part, dest)
    return dest


def _openable(url: str) -> str:
    """``url`` as urllib opens it: a plain path (a mirror on this machine) becomes a file: URL;
    a path or file: URL must name an existing file (FetchError)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("", "file"):
        return url
    path = Path(urllib.request.url2pathname(parts.path)) if parts.scheme else Path(url).expanduser()
    if not path.is_file():
        what = "is a directory, not a weights file" if path.is_dir() else "no such file"
        raise FetchError(f"{path}: {what}; give --url the path of the downloaded weights file (or an http(s) address)")
    return path.resolve().as_uri()


def _download(url: str, part: Path, dest: Path, *, progress: bool, timeout: float) -> None:
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the .part is already complete
            return
        raise FetchError(f"HTTP {exc.code} {exc.reason} for {url}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"cannot reach {url} ({reason}); offline, download that file elsewhere and put it at {dest}") from None
    with response:
        if have and response.status != 206:  # the server ignored the Range: start again
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        mode = "ab" if have else "wb"
        received = have
        bar = _progress_bar(dest.name, total, have) if progress else None
        try:
            with open(part, mode) as f:
                while True:
                    block = response.read(CHUNK)
                    if not block:
                        break
                    f.write(block)
                    received += len(block)
                    if bar is not None:
                        bar[0].update(bar[1], completed=received)
        except (TimeoutError, http.client.IncompleteRead, ConnectionError, OSError) as exc:
            raise FetchError(
                f"transfer of {url} interrupted after {received} bytes ({type(exc).__name__}); "
                f"run the same command again to resume from {part}"
            ) from None
        finally:
            if bar is not None:
                bar[0].stop()
    if total is not None and received < total:
        raise FetchError(f"transfer of {url} ended after {received} of {total} bytes; run the same command again to resume from {part}")


def _progress_bar(label: str, total: int | None, done: int):
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task(label, total=total, completed=done)
    bar.start()
    return bar, task


def _extract(archive: Path, member_name: str, out: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as z:
            names = z.namelist()
            member = member_name if member_name in names else next((n for n in names if n.endswith(".params")), None)
            if member is None:
                raise FetchError(f"{archive.name} holds no {member_name}: {names}")
            with z.open(member) as src, open(out, "wb") as dst:
                for block in iter(lambda: src.read(CHUNK), b""):
                    dst.write(block)
    except zipfile.BadZipFile:
        archive.unlink(missing_ok=True)
        raise FetchError(f"{archive.name} is not a zip archive (removed); run the same command again") from None
