"""``zoocheck table``: registry published numbers joined with stored results, in md, csv and html."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re

import pytest
from conftest import make_entry

from zoocheck.cli import main
from zoocheck.families.resnet.spec import resnet
from zoocheck.records import (
    ConversionRecord,
    EvalResult,
    Failure,
    OutputComparison,
    ParityResult,
    SkippedImage,
    Tolerance,
    record_from_json,
)
from zoocheck.reports.table import build_rows, render
from zoocheck.store import ResultsStore
from zoocheck.zoo_registry.types import Architecture, Preprocess, Published

SPEC = Preprocess(resize=256, crop=224)


def entry(source, name, arch, top1, top5, params=25.56, ref=None):
    return make_entry(
        source, name, arch, preprocess=SPEC, published=(Published(top1, top5, ref or f"https://{source}.example/{name}", params_m=params),)
    )


R50 = Architecture(resnet(50))
R50D = Architecture(resnet(50, "d"))
X101 = Architecture(resnet(101, groups=32, width_per_group=4))
ENTRIES = [
    entry("timm", "resnet50d.gluon_in1k", R50D, 79.078, 94.466, 25.58),
    entry("torchvision", "resnet50.IMAGENET1K_V1", R50, 76.13, 92.862),
    entry("ppcls", "ResNet50_vd", R50D, 79.12, 94.44, 25.58),
    entry("mmpretrain", "resnext101-32x4d_8xb32_in1k", X101, 78.61, 94.17, 44.18),
    entry("timm", "resnet50.tv_in1k", R50, 76.13, 92.86),
]


def eval_record(
    source, model, top1, top5, *, random_weights=False, time="2026-01-01T00:00:00+00:00", arch=None, images=50000, published_weights=None
):
    """An evaluation of the published weights file, unless ``random_weights`` or ``published_weights=False``."""
    return EvalResult(
        source=source,
        model=model,
        backend="onnxruntime",
        top1=top1,
        top5=top5,
        images=images,
        skipped=(SkippedImage("/x.JPEG", "cannot decode"),),
        time_s=1.0,
        throughput=25.0,
        dataset={"layout": "imagefolder"},
        dataset_fingerprint="f" * 64,
        preprocess=SPEC.to_dict(),
        random_weights=random_weights,
        arch=arch,
        time=time,
        published_weights=not random_weights if published_weights is None else published_weights,
    )


def audit_line(source, model, measured, published):
    """An audit record as zoocheck stored it before the one status vocabulary ('name' and 'model')."""
    return {
        "kind": "audit",
        "source": source,
        "name": model,
        "model": model,
        "quantity": "params_m",
        "measured": measured,
        "published": published,
        "published_unit": "M params",
        "normalised": published,
        "convention": "trainable",
        "status": "ok",
        "reference": "r",
        "input_size": 224,
    }


# Lines as results.jsonl files written before typed records hold them: parity said 'pass'.
LEGACY_LINES = [
    {"kind": "conversion", "status": "ok", "source": "timm", "model": "resnet50d.gluon_in1k", "arch": "resnet50_d", "random_weights": False},
    {"kind": "conversion", "status": "failed", "source": "ppcls", "model": "ResNet50_vd", "arch": "resnet50_d", "random_weights": False},
    {"kind": "parity", "status": "pass", "source": "timm", "model": "resnet50d.gluon_in1k", "reference": "torch", "test": "onnxruntime", "random_weights": False,
     "tolerance": {"max_rel_err": 1e-3}, "comparisons": [{"input": "a", "max_abs_err": 0.0, "max_rel_err": 0.0, "cosine": 1.0, "top1_reference": 1,
                                                          "top1_test": 1, "top5_overlap": 5, "nonfinite": False, "top1_agree": True}]},
    audit_line("timm", "resnet50d.gluon_in1k", 25.576264, 25.58),
    audit_line("mmpretrain", "resnext101-32x4d_8xb32_in1k", 44.177, 44.18),
]  # fmt: skip
RECORDS = [
    eval_record("timm", "resnet50d.gluon_in1k", 79.07, 94.47, time="2026-01-01T00:00:00+00:00"),
    eval_record("timm", "resnet50d.gluon_in1k", 79.074, 94.468, time="2026-01-02T00:00:00+00:00"),  # latest wins
    eval_record("timm", "resnet50d.gluon_in1k", 0.1, 0.5, random_weights=True, time="2026-01-03T00:00:00+00:00"),  # real weights preferred
    eval_record("torchvision", "resnet50.IMAGENET1K_V1", 0.098, 0.502, random_weights=True),
    *(record_from_json(line) for line in LEGACY_LINES),
    eval_record("gluon", "resnet50_v1", 77.3, 93.5, arch="resnet50_v1"),  # a result with no registry entry
]
FAILURES = [Failure("mmpretrain", "resnext101-32x4d_8xb32_in1k", "export", "RuntimeError", "boom")]


def test_legacy_statuses_are_read_in_the_one_vocabulary():
    parity = next(r for r in RECORDS if r.KIND == "parity")
    assert parity.status == "ok" and parity.to_json()["status"] == "ok"
    assert {r.status for r in RECORDS if r.KIND == "audit"} == {"ok"} and all(r.model for r in RECORDS if r.KIND == "audit")


def test_a_record_of_the_wrong_shape_is_skipped_naming_file_line_and_field(tmp_path):
    store = ResultsStore(tmp_path)
    store.add(RECORDS[0])
    with open(store.results_path, "a") as fh:
        fh.write(json.dumps({"kind": "eval", "source": "timm"}) + "\n")
    assert [r.to_json() for r in store.results()] == [json.loads(json.dumps(RECORDS[0].to_json()))]
    [problem] = store.skipped_lines
    assert re.search(r"results.jsonl line 2 .*missing field 'model'; skipped", problem), problem


def test_rows_join_published_and_measured_grouped_by_architecture():
    rows = build_rows(ENTRIES, RECORDS, FAILURES)
    assert [(r.arch, r.source) for r in rows] == [
        ("resnet50", "torchvision"),
        ("resnet50", "timm"),
        ("resnet50_d", "timm"),
        ("resnet50_d", "ppcls"),
        ("resnet50_v1", "gluon"),
        ("resnext101_32x4d", "mmpretrain"),
    ]
    r50d = next(r for r in rows if r.model == "resnet50d.gluon_in1k")
    assert (r50d.measured_top1, r50d.measured_top5, r50d.random_weights) == (79.074, 94.468, False)
    assert r50d.delta_top1 == pytest.approx(-0.004) and r50d.delta_top5 == pytest.approx(0.002)
    assert (r50d.conversion, r50d.parity, r50d.params_m_measured, r50d.params_m_published) == ("ok", "ok", pytest.approx(25.576264), 25.58)
    tv = next(r for r in rows if r.source == "torchvision")
    assert tv.random_weights and tv.delta_top1 is None  # no difference against random weights
    assert next(r for r in rows if r.source == "ppcls").conversion == "failed"
    x101 = next(r for r in rows if r.source == "mmpretrain")
    assert (x101.conversion, x101.params_m_measured, x101.measured_top1) == ("failed", 44.177, None)
    gluon = next(r for r in rows if r.source == "gluon")
    assert (gluon.published_top1, gluon.measured_top1) == (None, 77.3)


def test_filters():
    assert {r.arch for r in build_rows(ENTRIES, RECORDS, arch="resnet50_d")} == {"resnet50_d"}
    assert {r.source for r in build_rows(ENTRIES, RECORDS, source="timm")} == {"timm"}
    assert {r.arch for r in build_rows(ENTRIES, RECORDS, arch="resnet50*")} == {"resnet50", "resnet50_d", "resnet50_v1"}


def test_markdown():
    text = render(build_rows(ENTRIES, RECORDS, FAILURES), "md")
    lines = text.splitlines()
    assert lines[0].startswith("| architecture | source | model | published top-1 | published top-5 | measured top-1")
    row = next(line for line in lines if "resnet50d.gluon_in1k" in line)
    # the legacy parity line predates published_weights: its weights are not proved the published file
    assert "| 79.078 | 94.466 | 79.074 | 94.468 | -0.00 | +0.00 | 50000 | ok | ok (other weights) | - | - | - | 25.58 / 25.58 |" in row
    assert "0.098 (random weights)" in text and "check the pipeline only" in text
    assert all(line.count("|") == lines[0].count("|") for line in lines if line.startswith("|"))


def test_csv_round_trip():
    rows = list(csv.DictReader(io.StringIO(render(build_rows(ENTRIES, RECORDS, FAILURES), "csv"))))
    r = next(r for r in rows if r["model"] == "resnet50d.gluon_in1k")
    assert (r["arch"], float(r["published_top1"]), float(r["measured_top1"]), r["conversion"], r["parity"]) == (
        "resnet50_d",
        79.078,
        79.074,
        "ok",
        "ok",
    )
    assert next(r for r in rows if r["source"] == "torchvision")["random_weights"] == "True"
    assert len(rows) == 6


def test_html_is_the_reports_entries_page_on_its_own():
    from zoocheck.reports.site import render_table_page

    rows = build_rows(ENTRIES, RECORDS, FAILURES)
    text = render_table_page(rows)
    assert text.startswith("<!DOCTYPE html>") and "</html>" in text and '<table id="entries">' in text and "<script>" in text
    body = text[text.index("<tbody>") : text.index("</tbody>")]
    assert body.count("<tr") == len(rows) == 6
    # the random-weights evaluation's row is marked in every cell, its measured numbers say so
    random_row = next(line for line in body.split("<tr")[1:] if "resnet50.IMAGENET1K_V1" in line)
    assert 'class="rw"' in random_row and "0.098" in random_row and "(random weights)" in random_row
    assert "arch/" not in text and "<nav>" not in text  # on its own: no links to the report's other pages


def test_html_escapes():
    from zoocheck.reports.site import render_table_page

    text = render_table_page(build_rows([entry("timm", "a<b>", R50, 70.0, 90.0, ref="x & y")], []))
    assert "a&lt;b&gt;" in text and "x &amp; y" in text and "a<b>" not in text


def test_table_command(tmp_path, monkeypatch, capsys):
    import zoocheck.zoo_registry as registry

    monkeypatch.setattr(registry, "list_entries", lambda source=None, arch=None: [e for e in ENTRIES if source in (None, e.source)])
    store = ResultsStore(tmp_path)
    for r in [*RECORDS, *FAILURES]:
        store.add(r)
    assert main(["table", "--results", str(tmp_path), "--format", "csv"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 7
    assert main(["table", "--results", str(tmp_path), "--src", "paddleclas", "--json"]) == 0
    assert [r["model"] for r in json.loads(capsys.readouterr().out)] == ["ResNet50_vd"]
    out = tmp_path / "t.html"
    assert main(["table", "--results", str(tmp_path), "--format", "html", "--output", str(out)]) == 0
    assert '<table id="entries">' in out.read_text()
    assert main(["table", "--results", str(tmp_path), "--src", "nope"]) == 2


def test_a_corrupted_store_line_is_skipped_with_a_warning_naming_it(tmp_path, capsys):
    from zoocheck.cli import main
    from zoocheck.zoo_registry import get_entry

    name = get_entry("torchvision", "resnet18").name
    good = {**LEGACY_LINES[2], "source": "torchvision", "model": name}  # a parity line that said 'pass'
    (tmp_path / "results.jsonl").write_text(json.dumps(good) + "\n" + '{"kind": "parity", "sou\n' + "[1, 2]\n")
    assert main(["table", "--src", "torchvision", "--arch", "resnet18", "--format", "csv", "--results", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    warnings = captured.err.strip().splitlines()
    assert len(warnings) == 2 and "line 2" in warnings[0] and "line 3" in warnings[1]
    assert all(w.startswith("zoocheck: warning:") and "results.jsonl" in w for w in warnings)
    assert "Traceback" not in captured.err
    row = next(r for r in csv.DictReader(io.StringIO(captured.out)) if r["model"] == name)
    assert row["parity"] == "ok"


_AGREE = OutputComparison("a", 0.0, 0.0, 1.0, 1, 1, 5, False)
_DISAGREE = OutputComparison("a", 1.0, 1.0, 0.5, 1, 2, 1, False)


def conversion(entry, random_weights):
    return ConversionRecord("ok", entry.source, entry.name, entry.arch.id, random_weights=random_weights)


def parity(entry, passed, random_weights, time, onnx_verified=True, published_weights=None):
    comparison = _AGREE if passed else _DISAGREE
    published = not random_weights if published_weights is None else published_weights
    return ParityResult(
        entry.source,
        entry.name,
        "torch",
        "onnxruntime",
        Tolerance(),
        (comparison,),
        random_weights,
        time=time,
        onnx_verified=onnx_verified,
        published_weights=published,
    )


def test_random_weights_mark_every_cell_and_never_share_one_with_real_results():
    from zoocheck.zoo_registry import get_entry

    entry = get_entry("torchvision", "resnet18")
    other = get_entry("torchvision", "resnet34")
    records = [
        conversion(entry, True),
        parity(entry, True, True, "2026-01-02T00:00:00+00:00"),
        conversion(other, True),
        parity(other, False, False, "2026-01-01T00:00:00+00:00"),
        parity(other, True, True, "2026-01-03T00:00:00+00:00"),
    ]
    rows = {r.model: r for r in build_rows([entry, other], records)}
    r18, r34 = rows[entry.name], rows[other.name]
    assert (r18.conversion_random_weights, r18.parity_random_weights, r18.any_random_weights) == (True, True, True)
    # the newer random pass does not hide (or merge into) the real-weights fail
    assert (r34.parity, r34.parity_random_weights) == ("failed", False)
    md = render([r18, r34], "md")
    line18 = next(line for line in md.splitlines() if entry.name in line)
    assert line18.count("ok (random weights)") == 2
    line34 = next(line for line in md.splitlines() if other.name in line)
    assert "| failed |" in line34
    csv_rows = {r["model"]: r for r in csv.DictReader(io.StringIO(render([r18, r34], "csv")))}
    assert csv_rows[entry.name]["conversion_random_weights"] == "True" and csv_rows[entry.name]["parity_random_weights"] == "True"
    assert csv_rows[entry.name]["any_random_weights"] == "True"
    assert csv_rows[other.name]["parity_random_weights"] == "False"
    from zoocheck.reports.site import render_table_page

    page = render_table_page([r18])
    assert 'class="rw"' in page and '<span class="ok">ok</span> <span class="rwmark">(random weights)</span>' in page


def test_an_unverified_parity_is_marked_and_a_verified_one_preferred():
    from zoocheck.zoo_registry import get_entry

    entry = get_entry("torchvision", "resnet18")
    unverified = parity(entry, True, False, "2026-01-02T00:00:00+00:00", onnx_verified=False)
    [row] = build_rows([entry], [unverified])
    assert row.parity_unverified and "ok (unverified file)" in render([row], "md")
    [row] = build_rows([entry], [unverified, parity(entry, False, False, "2026-01-01T00:00:00+00:00")])
    assert (row.parity, row.parity_unverified) == ("failed", False)


def test_a_record_whose_onnx_file_now_holds_another_model_is_left_out(tmp_path, capsys):
    from zoocheck.zoo_registry import get_entry

    entry = get_entry("torchvision", "resnet18")
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(b"")  # only the description beside it is read
    described = {"source": "timm", "model": "resnet50.a1_in1k", "random_weights": True, "random_seed": 0, "weights": None}
    (tmp_path / "m.onnx.json").write_text(json.dumps(described))
    record = dataclasses.replace(parity(entry, True, True, "2026-01-01T00:00:00+00:00"), random_seed=0, onnx_path=str(onnx_file))
    store = ResultsStore(tmp_path / "r")
    store.add(record)
    argv = ["table", "--src", "torchvision", "--arch", "resnet18", "--format", "csv", "--results", str(tmp_path / "r")]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "left out" in captured.err and "now holds timm/resnet50.a1_in1k" in captured.err
    row = next(r for r in csv.DictReader(io.StringIO(captured.out)) if r["model"] == entry.name)
    assert row["parity"] == ""
    (tmp_path / "m.onnx.json").write_text(json.dumps({**described, "source": entry.source, "model": entry.name}))
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and next(r for r in csv.DictReader(io.StringIO(captured.out)) if r["model"] == entry.name)["parity"] == "ok"


def test_compared_with_lists_same_weights_partners_first_and_real_over_random():
    from zoocheck.records import Comparison, FunctionComparison, Side, WeightsComparison
    from zoocheck.reports.table import build_rows
    from zoocheck.zoo_registry import get_entry

    tv = get_entry("torchvision", "resnet50.IMAGENET1K_V1")
    assert "timm/resnet50.tv_in1k" in tv.same_weights_as

    def comparison(other_source, other_model, *, random_weights, identical, time):
        a = Side(
            "torchvision", tv.name, tv.arch.id, "a.onnx", None if random_weights else "a.pth", random_seed=0 if random_weights else None
        )
        b = Side(other_source, other_model, tv.arch.id, "b.onnx", None if random_weights else "b.pth")
        from zoocheck.records import TensorDifference

        differing = () if identical else (TensorDifference("fc.weight", 1.0, 0.5, 0.9),)
        return Comparison(a, b, WeightsComparison(10, differing), FunctionComparison((), Tolerance()), None, time=time)

    records = [
        comparison("mmpretrain", "resnet50_8xb32_in1k", random_weights=True, identical=True, time="2026-01-01T00:00:00+00:00"),
        comparison("timm", "resnet50.tv_in1k", random_weights=True, identical=True, time="2026-01-01T00:00:00+00:00"),
        comparison("timm", "resnet50.tv_in1k", random_weights=False, identical=False, time="2025-01-01T00:00:00+00:00"),
    ]
    (row,) = [r for r in build_rows([tv], records) if r.model == tv.name]
    # the registry's same-weights partner first; its real-weights comparison wins over the random one
    assert row.compared == ("different timm/resnet50.tv_in1k", "identical mmpretrain/resnet50_8xb32_in1k (random weights)")


def test_results_from_weights_other_than_the_published_file_are_marked_and_have_no_delta(tmp_path):
    """`eval --weights untrained.pth`: beside the published 69.76 only marked, with no Δ, out of the plot."""
    from zoocheck.reports import plots
    from zoocheck.reports.site import render_table_page
    from zoocheck.reports.site_views import EntryView
    from zoocheck.zoo_registry import get_entry

    entry = get_entry("torchvision", "resnet18")
    own_eval = eval_record(entry.source, entry.name, 0.1, 0.5, published_weights=False, time="2026-01-02T00:00:00+00:00")
    own_parity = parity(entry, True, False, "2026-01-02T00:00:00+00:00", published_weights=False)
    [row] = build_rows([entry], [own_eval, own_parity])
    assert (row.other_weights, row.parity_other_weights, row.any_other_weights) == (True, True, True)
    assert row.delta_top1 is None and row.delta_top5 is None and not row.any_random_weights
    line = next(line for line in render([row], "md").splitlines() if entry.name in line)
    assert "0.100 (other weights)" in line and "0.500 (other weights)" in line and "ok (other weights)" in line
    assert "Cells marked (other weights)" in render([row], "md")
    [csv_row] = csv.DictReader(io.StringIO(render([row], "csv")))
    assert (csv_row["other_weights"], csv_row["parity_other_weights"], csv_row["delta_top1"]) == ("True", "True", "")
    page = render_table_page([row])
    assert 'class="other"' in page and '0.100 <span class="othermark">(other weights)</span>' in page
    plot = tmp_path / "accuracy.svg"
    plots.accuracy([EntryView(row, entry, (), "", "")], plot)
    assert "no entry has a published and a real-weights measured top-1" in plot.read_text()
    # the published file's result takes the cell, though older
    published = eval_record(entry.source, entry.name, 69.758, 89.078, time="2026-01-01T00:00:00+00:00")
    [row] = build_rows([entry], [published, own_eval])
    assert (row.measured_top1, row.other_weights) == (69.758, False) and row.delta_top1 == pytest.approx(69.758 - row.published_top1)
    assert "(other weights)" not in next(line for line in render([row], "md").splitlines() if entry.name in line)


def test_only_the_file_with_the_registry_checksum_is_the_published_one(tmp_path, monkeypatch):
    from zoocheck.digests import file_digest
    from zoocheck.zoo_registry.download import cached_weights_path, is_published_file
    from zoocheck.zoo_registry.types import Checksum, Weights

    published, own = tmp_path / "published.pth", tmp_path / "own.pth"
    published.write_bytes(b"the zoo's bytes")
    own.write_bytes(b"a user's bytes")
    weights = Weights(
        "https://zoo.example/published.pth", "published.pth", "torch-state-dict", Checksum("sha256", file_digest(published)[:10], "prefix")
    )
    checked = make_entry("torchvision", "resnet18", weights=weights)
    assert is_published_file(checked, published) and not is_published_file(checked, own)
    assert not is_published_file(checked, tmp_path) and not is_published_file(make_entry("torchvision", "resnet18"), published)
    # a zoo that publishes no checksum (PaddleClas): the file `zoocheck fetch` put in the cache
    monkeypatch.setenv("ZOOCHECK_CACHE", str(tmp_path / "cache"))
    unchecked = make_entry("ppcls", "ResNet18", weights=dataclasses.replace(weights, checksum=None))
    fetched = cached_weights_path(unchecked)
    fetched.parent.mkdir(parents=True)
    fetched.write_bytes(b"downloaded")
    assert is_published_file(unchecked, fetched) and not is_published_file(unchecked, own)


def test_a_parity_records_whether_its_weights_are_the_published_file(registered_source, tmp_path):
    import tiny_zoo_converter
    from test_new_source import TINY

    from zoocheck.checks.parity import check_parity
    from zoocheck.digests import file_digest
    from zoocheck.zoo_registry import get_entry
    from zoocheck.zoo_registry.types import Checksum, Weights

    registered_source(TINY)
    published = tiny_zoo_converter.write_checkpoint(tmp_path / "published.npz", seed=1)
    own = tiny_zoo_converter.write_checkpoint(tmp_path / "own.npz", seed=2)
    weights = Weights(
        "https://tiny-zoo.example/published.npz", "published.npz", "torch-state-dict", Checksum("sha256", file_digest(published))
    )
    entry = dataclasses.replace(get_entry("tiny-zoo", "tiny-linear"), weights=weights)
    for path, expected in ((published, True), (own, False)):
        result, _ = check_parity(entry, weights=path, random_seed=None, output=tmp_path / f"{path.stem}.onnx", isolate=False)
        assert (result.status, result.published_weights) == ("ok", expected)
