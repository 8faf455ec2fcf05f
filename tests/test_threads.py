"""One count of the cores zoocheck may use, and one onnxruntime session builder."""

import os
import subprocess
import sys

import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from zoocheck.converters.base import allowed_cpus, available_cpus
from zoocheck.converters.onnx_runtime import session


def _relu_model(path):
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_the_core_count_follows_the_affinity_mask_not_the_host(tmp_path):
    model = _relu_model(tmp_path / "relu.onnx")
    one = min(os.sched_getaffinity(0))
    script = (
        f"import os, sys; os.sched_setaffinity(0, {{{one}}})\n"
        "from zoocheck.converters.base import allowed_cpus, available_cpus\n"
        "from zoocheck.converters.onnx_runtime import session\n"
        "print(allowed_cpus(), available_cpus(), session(sys.argv[1]).get_session_options().intra_op_num_threads)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(model)], capture_output=True, text=True, check=True).stdout.split("\n")[0]
    assert out == f"[{one}] 1 1"
    assert allowed_cpus() == sorted(os.sched_getaffinity(0))


def test_omp_num_threads_caps_every_thread_pool_as_ray_sets_it_for_a_task(tmp_path, monkeypatch):
    model = _relu_model(tmp_path / "relu.onnx")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert available_cpus() == 1 and session(model).get_session_options().intra_op_num_threads == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "4096")  # a budget beyond the cores this process has
    assert available_cpus() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("OMP_NUM_THREADS", "not-a-number")
    assert available_cpus() == len(os.sched_getaffinity(0))


def test_a_session_optimises_unless_asked_to_run_the_graph_as_written(tmp_path):
    model = _relu_model(tmp_path / "relu.onnx")
    assert session(model).get_session_options().graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    as_written = session(model, 1, optimize=False).get_session_options()
    assert as_written.graph_optimization_level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL and as_written.intra_op_num_threads == 1
