"""A sweep job's key changes with every package its result may depend on."""

from __future__ import annotations

import pytest

from zoocheck.sweep import jobs
from zoocheck.zoo_registry import get_entry


@pytest.mark.parametrize("source, model, package", [("onnx-zoo", "resnet18-v1-7", "mxnet"), ("onnx-zoo", "mobilenetv2-12", "torch")])
def test_a_random_weights_files_writer_version_is_in_its_job_key(monkeypatch, source, model, package):
    """The ONNX zoo's jobs run in onnxruntime's pool, but their random-weights files are written by
    MXNet or torch: a new MXNet or torch must run them again."""
    entry = get_entry(source, model)

    def key() -> str:
        jobs.framework_versions.cache_clear()
        return jobs.job_key(entry, "convert", {"random_seed": 0}, {}, None)

    before = key()
    version = jobs.metadata.version
    monkeypatch.setattr(jobs.metadata, "version", lambda name: "0.0-other" if name == package else version(name))
    assert key() != before
    monkeypatch.undo()
    assert key() == before
    jobs.framework_versions.cache_clear()
