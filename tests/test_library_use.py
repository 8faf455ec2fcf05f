"""zoocheck used as a library from a plain script: no ``if __name__ == "__main__"`` guard needed.

Converting starts a child process; with multiprocessing's spawn the child re-imported the
caller's ``__main__`` and an unguarded script hung. The child is a fresh ``python -m`` process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import zoocheck

SCRIPT = """
import sys
from pathlib import Path

sys.path.insert(0, {tests!r})
from zoocheck.converters.pipeline import convert
from zoocheck.sources import Framework, Source, register_source
from zoocheck.zoo_registry import get_entry

register_source(Source("tiny-zoo", "tiny_zoo_entries", "tiny_zoo_converter:TinyConverter", (Framework("onnx"),), runtime="numpy"))
conversion = convert(get_entry("tiny-zoo", "tiny-linear"), output=Path({output!r}), random_seed=0)
print("converted" if conversion.ok else conversion.failure.one_line())
"""


def test_an_unguarded_script_converts(tmp_path):
    script = tmp_path / "convert_it.py"
    output = tmp_path / "tiny.onnx"
    script.write_text(textwrap.dedent(SCRIPT.format(tests=str(Path(__file__).parent), output=str(output))))
    # a user's script: no warm children (the suite's ZOOCHECK_PRELOAD would fork this one from torch's)
    env = {**os.environ, "PYTHONPATH": str(Path(zoocheck.__file__).resolve().parents[1]), "ZOOCHECK_PRELOAD": ""}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "converted"
    assert output.is_file() and (tmp_path / "tiny.onnx.json").is_file()
