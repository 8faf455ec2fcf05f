"""fetch() against a local HTTP server on 127.0.0.1: good file, wrong checksum, truncated transfer and
resume, 404, server gone; MXNet-style zip archives; the `zoocheck fetch` command."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import make_entry

from zoocheck.cli import main
from zoocheck.zoo_registry.download import ChecksumMismatch, FetchError, cached_weights_path, fetch
from zoocheck.zoo_registry.types import Checksum, Entry, Weights

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


class Server:
    """Serves ``files`` (path -> bytes) with Range support; ``truncate[path] = n`` closes after n bytes
    once, ``requests`` records (path, Range header)."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.truncate: dict[str, int] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                start = 0
                if rng:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                chunk = body[start:]
                self.send_header("Content-Length", str(len(chunk)))
                self.end_headers()
                cut = server.truncate.pop(self.path, None)
                if cut is not None:
                    self.wfile.write(chunk[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(chunk)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOOCHECK_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def weights_entry(
    url: str, checksum: Checksum | None, file_name: str = "x.pth", source: str = "torchvision", fmt="torch-state-dict"
) -> Entry:
    return make_entry(
        source, "test-model", builder="resnet18", weights=Weights(url=url, file_name=file_name, format=fmt, checksum=checksum)
    )


def test_good_file_full_sha256(server, cache):
    server.files["/x.pth"] = PAYLOAD
    entry = weights_entry(server.url("/x.pth"), Checksum("sha256", SHA256))
    path = fetch(entry, progress=False)
    assert path == cache / "torchvision" / "x.pth" == cached_weights_path(entry)
    assert path.read_bytes() == PAYLOAD
    assert not list(path.parent.glob("*.part"))
    fetch(entry, progress=False)  # cached and verified: no second request
    assert len(server.requests) == 1


def test_good_file_sha256_prefix_and_progress_bar(server):
    server.files["/resnet-0123abcd.pth"] = PAYLOAD
    entry = weights_entry(server.url("/resnet-0123abcd.pth"), Checksum("sha256", SHA256[:8], kind="prefix"))
    assert fetch(entry, progress=True).read_bytes() == PAYLOAD


def test_wrong_checksum_removes_the_file(server, cache):
    server.files["/x.pth"] = PAYLOAD
    entry = weights_entry(server.url("/x.pth"), Checksum("sha256", "0" * 64))
    with pytest.raises(ChecksumMismatch, match="expected sha256=0000"):
        fetch(entry, progress=False)
    assert not any((cache / "torchvision").iterdir())


def test_truncated_transfer_resumes_with_range(server, cache):
    server.files["/x.pth"] = PAYLOAD
    server.truncate["/x.pth"] = 300_000
    entry = weights_entry(server.url("/x.pth"), Checksum("sha256", SHA256))
    with pytest.raises(FetchError, match="resume"):
        fetch(entry, progress=False)
    part = cache / "torchvision" / "x.pth.part"
    assert part.stat().st_size == 300_000 and not (cache / "torchvision" / "x.pth").exists()
    path = fetch(entry, progress=False)
    assert path.read_bytes() == PAYLOAD and not part.exists()
    assert server.requests[-1] == ("/x.pth", "bytes=300000-")


def test_complete_part_file_is_finished_without_download(server, cache):
    server.files["/x.pth"] = PAYLOAD
    (cache / "torchvision").mkdir(parents=True)
    (cache / "torchvision" / "x.pth.part").write_bytes(PAYLOAD)
    entry = weights_entry(server.url("/x.pth"), Checksum("sha256", SHA256))
    assert fetch(entry, progress=False).read_bytes() == PAYLOAD  # server answers 416


def test_404(server):
    entry = weights_entry(server.url("/missing.pth"), None)
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch(entry, progress=False)


def test_server_gone(server, cache):
    url = server.url("/x.pth")
    server.stop()
    entry = weights_entry(url, Checksum("sha256", SHA256))
    with pytest.raises(FetchError) as err:
        fetch(entry, progress=False)
    message = str(err.value)
    assert "cannot reach" in message and url in message and str(cache / "torchvision" / "x.pth") in message


def test_damaged_cached_file_is_fetched_again(server, cache):
    server.files["/x.pth"] = PAYLOAD
    (cache / "torchvision").mkdir(parents=True)
    (cache / "torchvision" / "x.pth").write_bytes(b"garbage")
    entry = weights_entry(server.url("/x.pth"), Checksum("sha256", SHA256))
    assert fetch(entry, progress=False).read_bytes() == PAYLOAD


def test_gluon_zip_is_extracted_and_sha1_checked(server, cache):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("resnet18_v1-a0666292.params", PAYLOAD)
    server.files["/resnet18_v1-a0666292.zip"] = buf.getvalue()
    sha1 = hashlib.sha1(PAYLOAD).hexdigest()
    entry = weights_entry(
        server.url("/resnet18_v1-a0666292.zip"), Checksum("sha1", sha1), "resnet18_v1-a0666292.params", "gluon", "gluon-params"
    )
    path = fetch(entry, progress=False)
    assert path == cache / "gluon" / "resnet18_v1-a0666292.params" and path.read_bytes() == PAYLOAD
    assert not list((cache / "gluon").glob("*.part")) and not list((cache / "gluon").glob("*.zip"))


# --- the command -----------------------------------------------------------------------------


@pytest.fixture
def registry_entry(monkeypatch):
    """Make `--src torchvision --model test-model` resolve to a test entry."""
    import zoocheck.cli.registry as cli_registry

    holder = {}
    monkeypatch.setattr(cli_registry, "resolve_entry", lambda source, name: holder["entry"])
    return holder


def test_fetch_command_prints_path(server, registry_entry, capsys, cache):
    server.files["/x.pth"] = PAYLOAD
    registry_entry["entry"] = weights_entry(server.url("/x.pth"), Checksum("sha256", SHA256))
    assert main(["fetch", "--src", "torchvision", "--model", "test-model"]) == 0
    assert capsys.readouterr().out.strip() == str(cache / "torchvision" / "x.pth")


def test_fetch_command_checksum_mismatch_one_line_exit_2(server, registry_entry, capsys, cache):
    server.files["/x.pth"] = PAYLOAD
    registry_entry["entry"] = weights_entry(server.url("/x.pth"), Checksum("sha256", "f" * 64))
    assert main(["fetch", "--src", "torchvision", "--model", "test-model"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "checksum mismatch" in err and "run the fetch again" in err
    assert not (cache / "torchvision" / "x.pth").exists()


def test_fetch_command_404_and_unverifiable_warning(server, registry_entry, capsys):
    registry_entry["entry"] = weights_entry(server.url("/nope.pdparams"), None, "nope.pdparams", "ppcls", "paddle-pdparams")
    assert main(["fetch", "--src", "ppcls", "--model", "test-model"]) == 2
    assert "HTTP 404" in capsys.readouterr().err
    server.files["/nope.pdparams"] = PAYLOAD
    assert main(["fetch", "--src", "ppcls", "--model", "test-model", "--json"]) == 0
    captured = capsys.readouterr()
    assert "could not be verified" in captured.err and '"verified": false' in captured.out


def test_fetch_command_unknown_model_exit_2(capsys):
    assert main(["fetch", "--src", "timm", "--model", "resnet50.no_such_tag"]) == 2
    assert "closest" in capsys.readouterr().err


def test_fetch_command_no_weights_published(capsys):
    assert main(["fetch", "--src", "ppcls", "--model", "Fix_ResNet50_vd_ssld"]) == 2
    assert "no weights" in capsys.readouterr().err
