"""ImageNet-1k class table, label mapping and the four val layouts."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from imagenet_sets import build_layouts, photo_items, synthetic_items, val_name

from zoocheck.checks.imagenet import (
    DatasetError,
    classes,
    ilsvrc2012_id_to_index,
    read_dataset,
    wnid_to_index,
)

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


def test_class_table_known_pairs():
    table = classes()
    assert len(table) == 1000
    assert table[0].wnid == "n01440764" and table[0].ilsvrc2012_id == 449 and table[0].short_name == "tench"
    assert ilsvrc2012_id_to_index()[1] == wnid_to_index()["n02119789"]  # ID 1 = kit fox
    assert table[ilsvrc2012_id_to_index()[1]].short_name == "kit fox"
    assert sorted(c.ilsvrc2012_id for c in table) == list(range(1, 1001))
    # STACK.md's photograph classes
    assert table[281].short_name == "tabby" and table[967].short_name == "espresso"
    assert table[657].short_name == "missile" and table[665].short_name == "moped"


def test_class_table_matches_timm():
    timm = pytest.importorskip("timm")
    synsets = Path(timm.__file__).parent / "data" / "_info" / "imagenet_synsets.txt"
    assert [c.wnid for c in classes()] == synsets.read_text().split()


@pytest.mark.skipif(not (REFERENCE / "imagenet_classes.tsv").is_file(), reason="shared reference data not present")
def test_packaged_table_is_the_reference_table():
    from zoocheck.checks.imagenet import CLASS_TABLE

    assert CLASS_TABLE.read_bytes() == (REFERENCE / "imagenet_classes.tsv").read_bytes()


def test_devkit_ids_of_the_first_val_images(tmp_path):
    # Val images 1..5 have devkit IDs 490, 361, 171, 822, 297 = sorted-WNID indices 65, 970, 230, 809, 516.
    root = tmp_path / "devkit"
    root.mkdir()
    (root / "ILSVRC2012_validation_ground_truth.txt").write_text("490\n361\n171\n822\n297\n")
    for i in range(1, 6):
        (root / val_name(i)).write_bytes(b"x")
    ds = read_dataset(root)
    assert ds.layout == "devkit"
    assert [s.label for s in ds.samples] == [65, 970, 230, 809, 516]
    assert [s.path.name for s in ds.samples] == [val_name(i) for i in range(1, 6)]


@pytest.mark.skipif(not (REFERENCE / "imagenet_val_labels.tsv").is_file(), reason="shared reference data not present")
def test_devkit_mapping_against_all_50000_reference_labels(tmp_path):
    with open(REFERENCE / "imagenet_val_labels.tsv") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    root = tmp_path / "devkit"
    (root / "data").mkdir(parents=True)
    (root / "data" / "ILSVRC2012_validation_ground_truth.txt").write_text("".join(r["ilsvrc2012_id"] + "\n" for r in rows))
    (root / "val").mkdir()
    (root / "val" / val_name(1)).write_bytes(b"x")  # the images folder is found by its first image
    ds = read_dataset(root)
    assert [s.label for s in ds.samples] == [int(r["index"]) for r in rows]
    assert all(wnid_to_index()[r["wnid"]] == int(r["index"]) for r in rows)


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    items = photo_items() + synthetic_items(3)
    return items, build_layouts(tmp_path_factory.mktemp("sets"), items)


@pytest.mark.parametrize("layout", ["imagefolder", "list", "kaggle", "devkit"])
def test_every_layout_is_detected_with_true_labels(layouts, layout):
    items, roots = layouts
    ds = read_dataset(roots[layout])
    assert ds.layout == layout
    got = sorted((s.path.read_bytes(), s.label) for s in ds.samples)
    assert got == sorted((it.data, it.label) for it in items)
    assert all(s.path.is_file() for s in ds.samples)


def test_label_file_given_directly(layouts):
    _, roots = layouts
    assert read_dataset(roots["list"] / "val_list.txt").layout == "list"
    assert read_dataset(roots["kaggle"] / "LOC_val_solution.csv").layout == "kaggle"
    gt = roots["devkit"] / "ILSVRC2012_devkit_t12" / "data" / "ILSVRC2012_validation_ground_truth.txt"
    ds = read_dataset(gt)
    assert ds.layout == "devkit" and all(s.path.is_file() for s in ds.samples)


def test_imagefolder_labels_never_come_from_the_folders_present(tmp_path):
    # Only two classes present: they keep their true indices (281, 967), not 0 and 1.
    photos = {it.name: it for it in photo_items()}
    items = [photos["chelsea"], photos["coffee"]]
    root = build_layouts(tmp_path, items)["imagefolder"]
    assert sorted(s.label for s in read_dataset(root).samples) == [281, 967]


def test_imagefolder_under_val(tmp_path):
    (tmp_path / "val" / "n01440764").mkdir(parents=True)
    (tmp_path / "val" / "n01440764" / "a.JPEG").write_bytes(b"x")
    ds = read_dataset(tmp_path)
    assert ds.layout == "imagefolder" and [s.label for s in ds.samples] == [0]


def test_kaggle_images_beside_the_csv(tmp_path):
    (tmp_path / "LOC_val_solution.csv").write_text("ImageId,PredictionString\nILSVRC2012_val_00000001,n01751748 1 2 3 4\n")
    (tmp_path / val_name(1)).write_bytes(b"x")
    ds = read_dataset(tmp_path)
    assert ds.samples[0].path == tmp_path / val_name(1) and ds.samples[0].label == 65


@pytest.mark.parametrize(
    "files, message",
    [
        ({}, "not an ImageNet-1k val layout"),
        ({"n99999999/a.JPEG": b"x"}, "not ImageNet-1k WNIDs"),
        ({"val_list.txt": "val/a.JPEG tench\n"}, "expected 'path index'"),
        ({"val_list.txt": "val/a.JPEG 1000\n"}, "outside 0..999"),
        ({"LOC_val_solution.csv": "ImageId,PredictionString\nx,n99999999 1 2 3 4\n"}, "WNID"),
        ({"LOC_val_solution.csv": "id,label\n"}, "header"),
        ({"ILSVRC2012_validation_ground_truth.txt": "0\n"}, "ILSVRC2012_ID 1..1000"),
        # blank lines are skipped but counted: the error names the file's own line number
        ({"val_list.txt": "val/a.JPEG 1\n\n  \nval/b.JPEG x\n"}, r"val_list.txt:4: expected 'path index'"),
        ({"ILSVRC2012_validation_ground_truth.txt": "1\n\n1001\n"}, r"ground_truth.txt:3: expected an ILSVRC2012_ID"),
        ({"ILSVRC2012_validation_ground_truth.txt": "1\n"}, "no ILSVRC2012_val_"),
    ],
)
def test_bad_data_is_a_clear_error(tmp_path, files, message):
    for name, content in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DatasetError, match=message):
        read_dataset(tmp_path)


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="no such data folder"):
        read_dataset(tmp_path / "nope")


def test_fingerprint_follows_content_not_location(tmp_path):
    items = synthetic_items(2)
    a = read_dataset(build_layouts(tmp_path / "a", items)["list"])
    b = read_dataset(build_layouts(tmp_path / "b", items)["list"])
    assert a.fingerprint() != "" and len(a.fingerprint()) == 64
    # Different mtimes of copies change it: a cache is never reused for files that may differ.
    import os

    for s, t in zip(a.samples, b.samples):
        st = os.stat(s.path)
        os.utime(t.path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert a.fingerprint() == b.fingerprint()
    b.samples[0].path.write_bytes(b.samples[0].path.read_bytes() + b"\0")
    assert a.fingerprint() != b.fingerprint()
