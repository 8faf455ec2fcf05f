"""``zoocheck report`` (issue 20): a results store made by real commands (a sweep of two test-only
zoos of the tiny family on random weights, a sweep failing on a bad weights file, a compare) plus
records written through the store's own API (a real-weights parity whose first divergence was
located on the converted file, a real-weights evaluation), rendered to a site whose structure is
checked against the store, then opened in headless Chromium (skipped where none is installed)."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from zoocheck.cli import main
from zoocheck.records import EvalResult, OutputComparison, ParityResult, Tolerance
from zoocheck.store import ResultsStore

TINY_A, TINY_B = "tiny-torch/tinynet-a", "tiny-seq/tinynet-b"
BAD = "torchvision/resnet34.IMAGENET1K_V1"  # its cached weights file is garbage: a weights failure
SELECTED = ("--src", "tiny-torch", "tiny-seq", "torchvision", "--arch", "[rt]*")  # the tiny archs and torchvision's ResNets


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from test_families import TINY

    from zoocheck.checks.divergence import first_divergence
    from zoocheck.checks.images import random_inputs
    from zoocheck.families.registry import register_family, unregister_family
    from zoocheck.sources import Framework, Source, register_source, unregister_source
    from zoocheck.zoo_registry import get_entry
    from zoocheck.zoo_registry.download import cached_weights_path

    folder = tmp_path_factory.mktemp("report")
    register_family(TINY)
    torch = (Framework("torch", extra="torch"),)
    for name, registry in (("tiny-torch", "tiny_family.torch_entries"), ("tiny-seq", "tiny_family.seq_entries")):
        register_source(
            Source(
                name=name,
                registry=registry,
                converter="tiny_family.converter:TinyFamilyConverter",
                frameworks=torch,
                runtime="torch",
                weights_format="torch-state-dict",
                checkpoint_writers=(("torch-state-dict", "tiny_family.converter:write_checkpoint"),),
            )
        )
    mp = pytest.MonkeyPatch()
    try:
        store = folder / "results"
        assert (
            main(
                [
                    "sweep",
                    "--model",
                    TINY_A,
                    TINY_B,
                    "--random-weights",
                    "--results",
                    str(store),
                    "--report",
                    str(folder / "sweep-report"),
                    "--json",
                ]
            )
            == 0
        )
        mp.setenv("ZOOCHECK_CACHE", str(folder / "cache"))
        bad = cached_weights_path(get_entry(*BAD.split("/")))
        bad.parent.mkdir(parents=True)
        bad.write_bytes(b"not a checkpoint: a download cut short")
        assert main(["sweep", "--model", BAD, "--results", str(store), "--json"]) == 1
        assert (
            main(["compare", TINY_A.replace("/", ":"), TINY_B.replace("/", ":"), "--random-weights", "--results", str(store), "--json"])
            == 0
        )

        # a real-weights parity of tinynet-a that failed: its first divergence located on the
        # converted file against a copy with one weight altered
        import onnx
        from onnx import numpy_helper

        converted = next(r for r in ResultsStore(store).results("conversion") if r.model == "tinynet-a").onnx_path
        model = onnx.load(converted)
        init = next(i for i in model.graph.initializer if i.name.endswith("conv2.weight"))
        init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 1.5, init.name))
        altered = folder / "altered.onnx"
        onnx.save(model, str(altered))
        divergence = first_divergence(converted, altered, random_inputs(2, 32, seed=1), tolerance=1e-4)
        assert divergence is not None and divergence.node_errors
        compared = OutputComparison("random-0", 0.5, divergence.max_rel_err, 0.9, 1, 2, 3, False)
        ResultsStore(store).add(
            ParityResult(
                "tiny-torch",
                "tinynet-a",
                "torch",
                "onnxruntime",
                Tolerance(),
                (compared,),
                random_weights=False,
                weights="/weights/tinynet-a.pt",
                first_divergence=divergence,
                published_weights=True,
            )
        )
        ResultsStore(store).add(
            EvalResult(
                "tiny-seq",
                "tinynet-b",
                "onnxruntime",
                61.5,
                88.0,
                500,
                (),
                1.0,
                500.0,
                {"layout": "imagefolder"},
                "f" * 64,
                {},
                random_weights=False,
                arch="tinynet_w8",
                published_weights=True,
            )
        )
        site = folder / "site"
        assert main(["report", "--results", str(store), "--output", str(site), *SELECTED]) == 0
        yield store, site, folder / "sweep-report"
    finally:
        mp.undo()
        for name in ("tiny-torch", "tiny-seq"):
            unregister_source(name)
        unregister_family(TINY.name)


class Page(HTMLParser):
    """What a page links to and holds: hrefs and srcs, ids, and tags with their attributes."""

    def __init__(self, path: Path):
        super().__init__()
        self.path, self.links, self.ids, self.tags = path, [], set(), []
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for name in ("href", "src"):
            if attrs.get(name):
                self.links.append(attrs[name])

    def rows(self, table_id: str) -> list[dict]:
        """The attributes of each body row of the table ``table_id`` (rows follow its tag)."""
        start = self.tags.index(next(t for t in self.tags if t[0] == "table" and t[1].get("id") == table_id))
        out = []
        for tag, attrs in self.tags[start + 1 :]:
            if tag == "table":
                break
            if tag == "tr" and "data-source" in attrs:
                out.append(attrs)
        return out


def pages(site: Path) -> dict[Path, Page]:
    return {p: Page(p) for p in sorted(site.rglob("*.html"))}


def test_every_link_of_every_page_resolves(results):
    _, site, _ = results
    parsed = pages(site)
    assert {p.relative_to(site).as_posix() for p in parsed} >= {
        "index.html",
        "entries.html",
        "architectures.html",
        "failures.html",
        "divergences.html",
        "arch/tinynet_w8.html",
    }
    for path, page in parsed.items():
        for link in page.links:
            url = urlparse(link)
            assert not url.scheme and not url.netloc, f"{path.name} links outside the report: {link}"  # no network
            target = (path.parent / unquote(url.path)).resolve() if url.path else path
            assert target.is_file(), f"{path.relative_to(site)}: broken link {link}"
            if url.fragment:
                assert url.fragment in (parsed[target].ids if target in parsed else set()), (
                    f"{path.relative_to(site)}: no #{url.fragment} in {target.name}"
                )


def test_overview_counts_are_the_stores(results):
    """Each count, real and random apart, equals what the store holds (the entries selected: the
    tiny pair and torchvision's ResNets)."""
    store, site, _ = results
    s = ResultsStore(store)
    index = Page(site / "index.html")
    counts = {}
    for tag, attrs in index.tags:
        if tag == "tr" and "data-status" in attrs:
            status = attrs["data-status"]
        if tag == "a" and "data-count" in attrs and attrs.get("href", "").startswith("entries.html"):
            counts[(status, attrs.get("data-weights", "all"))] = int(attrs["data-count"])
    from zoocheck.zoo_registry import list_entries

    selected = [e for e in list_entries() if e.source in ("tiny-torch", "tiny-seq", "torchvision") and e.arch.id[0] in "rt"]
    assert counts[("", "all")] == len(selected) == len(Page(site / "entries.html").rows("entries"))
    conversions = s.results("conversion")
    assert counts[("converted", "random")] == len({r.model for r in conversions if r.status == "ok" and r.random_weights}) == 2
    assert counts[("converted", "real")] == 0 and counts[("conversion-failed", "real")] == 1  # the bad file
    # tinynet-a's real-weights parity (failed) takes its cell; tinynet-b's random one passed
    assert (counts[("parity-passed", "random")], counts[("parity-failed", "real")], counts[("parity-passed", "real")]) == (1, 1, 0)
    assert counts[("parity-not-run", "all")] == len(selected) - 2  # the bad file's parity job failed before any check: no result
    assert counts[("parity-error", "real")] == counts[("parity-error", "random")] == 0
    assert counts[("sweep-failed", "real")] == 1
    assert (counts[("evaluated", "real")], counts[("evaluated", "random")]) == (1, 0)
    assert (counts[("compared", "random")], counts[("compared", "real")]) == (2, 0)  # both sides of the one comparison
    failure_rows = {attrs["data-category"] for tag, attrs in index.tags if tag == "tr" and "data-category" in attrs}
    assert failure_rows == {f.category for f in s.failures()} == {"weights"}
    assert "random-weights" in index.ids  # said at the top


def test_the_failures_page_shows_the_bad_files_failure_with_its_category_and_command(results):
    store, site, _ = results
    [failure] = [f for f in ResultsStore(store).failures() if f"{f.source}/{f.model}" == BAD and f.step == "convert"]
    assert failure.category == "weights" and failure.command == f"zoocheck convert --src torchvision --model {BAD.split('/')[1]}"
    text = (site / "failures.html").read_text()
    section = text[text.index('id="category-weights"') :]
    assert BAD in section and f'<code class="command">{failure.command}</code>' in section
    assert "checksum" in failure.message and failure.message.split(";")[0][:60] in section.replace("&#39;", "'")


def test_the_architecture_page_shows_both_zoos_and_their_comparison(results):
    _, site, _ = results
    page = Page(site / "arch" / "tinynet_w8.html")
    entries = {attrs["data-entry"] for tag, attrs in page.tags if tag == "th" and "data-entry" in attrs}
    assert entries == {TINY_A, TINY_B}
    [comparison] = [attrs for tag, attrs in page.tags if tag == "section" and "data-a" in attrs]
    assert {comparison["data-a"], comparison["data-b"]} == {TINY_A, TINY_B}
    text = (site / "arch" / "tinynet_w8.html").read_text()
    assert "identical" in text and "6 tensors compared, 0 differ" in text
    # the published-vs-measured plot has tinynet-b's real-weights measurement, per-input parity errors are listed
    assert text.count('class="measured"') == 1 and "random-0" in text


def test_the_divergence_page_and_its_model_explorer_node_data(results):
    _, site, _ = results
    text = (site / "divergences.html").read_text()
    assert f"parity of {TINY_A}" in text and "conv2" in text
    [link] = [attrs["href"] for tag, attrs in Page(site / "divergences.html").tags if tag == "a" and attrs.get("class") == "nodedata"]
    data = json.loads((site / link).read_text())
    values = {name: r["value"] for name, r in data["results"].items()}
    [diverging] = [name for name, r in data["results"].items() if "bgColor" in r]
    assert "conv2" in diverging and values[diverging] > 1e-4 and all(v <= 1e-4 for n, v in values.items() if n != diverging)
    assert data["thresholds"][0]["value"] == 1e-4


def test_plots_are_svg_and_random_weights_stay_out_of_the_real_ones(results):
    _, site, _ = results
    for name in ("parity-errors", "accuracy", "failures"):
        text = (site / "plots" / f"{name}.svg").read_text()
        assert text.lstrip().startswith("<?xml") and "<svg" in text
    parity = (site / "plots" / "parity-errors.svg").read_text()
    assert "real weights (1 entries)" in parity and "random weights (1 entries)" in parity


def test_a_folder_that_is_not_a_report_is_never_replaced(results, tmp_path, capsys):
    store, site, _ = results
    (tmp_path / "mine.txt").write_text("keep")
    assert main(["report", "--results", str(store), "--output", str(tmp_path), "--src", "tiny-torch"]) == 2
    assert "is not a zoocheck report" in capsys.readouterr().err and (tmp_path / "mine.txt").read_text() == "keep"
    again = tmp_path / "copy"
    shutil.copytree(site, again)
    assert (
        main(["report", "--results", str(store), "--output", str(again), "--src", "tiny-torch", "--json"]) == 0
    )  # an earlier report: replaced
    assert json.loads(capsys.readouterr().out)["index"] == str((again / "index.html").resolve())
    assert not (again / "arch" / "resnet18.html").exists() and (again / "arch" / "tinynet_w8.html").is_file()


# ---------------------------------------------------------------------------------------------
# the browser


def _browser():
    """Headless Chromium through selenium, or a skip naming what is missing."""
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        pytest.skip("no chromium/chromedriver: `apt-get install chromium chromium-driver` (README)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install zoocheck[test])")
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    options.binary_location = shutil.which("chromium")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    return webdriver.Chrome(options=options, service=service)


def test_the_site_in_headless_chromium(results):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _, site, _ = results
    driver = _browser()
    try:

        def load(url: str) -> None:
            driver.get(url)
            errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
            assert not errors, f"{url}: console errors {errors}"
            broken = driver.execute_script(
                "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
            )
            assert not broken, f"{url}: images that did not load {broken}"

        def visible_rows():
            return [r for r in driver.find_elements(By.CSS_SELECTOR, "#entries tbody tr") if r.is_displayed()]

        # every page and every link of it, as a person clicking through would follow them
        seen, todo = set(), [(site / "index.html").as_uri()]
        while todo:
            url = todo.pop()
            if url.split("#")[0] in seen:
                continue
            seen.add(url.split("#")[0])
            load(url)
            for href in driver.execute_script("return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"):
                if not href.endswith(".json"):
                    todo.append(href)
        assert len({u.split("?")[0] for u in seen}) == len(list(site.rglob("*.html")))

        # the overview's link opens the entries filtered to what it counted
        load((site / "index.html").as_uri())
        link = driver.find_element(By.CSS_SELECTOR, "tr[data-status=converted] a[data-weights=random]")
        expected = int(link.get_attribute("data-count"))
        link.click()
        assert len(visible_rows()) == expected == 2

        # filter by source and status, then sort by parity error
        load((site / "entries.html").as_uri())
        total = len(visible_rows())
        Select(driver.find_element(By.NAME, "source")).select_by_visible_text("tiny-torch")
        assert [r.get_attribute("data-source") for r in visible_rows()] == ["tiny-torch"]
        Select(driver.find_element(By.NAME, "source")).select_by_index(0)
        Select(driver.find_element(By.NAME, "status")).select_by_value("parity-failed")
        assert [r.get_attribute("data-source") for r in visible_rows()] == ["tiny-torch"]
        Select(driver.find_element(By.NAME, "status")).select_by_index(0)
        assert len(visible_rows()) == total
        header = driver.find_element(By.XPATH, "//table[@id='entries']//th[.//button[contains(., 'parity error')]]")
        column = driver.execute_script("return arguments[0].cellIndex", header)

        def errors():
            cells = [r.find_elements(By.TAG_NAME, "td")[column].get_attribute("data-v") for r in visible_rows()]
            return [float(c) for c in cells if c]

        header.find_element(By.TAG_NAME, "button").click()
        ascending = errors()
        assert len(ascending) == 2 and ascending == sorted(ascending)
        header.find_element(By.TAG_NAME, "button").click()
        assert errors() == sorted(ascending, reverse=True) and header.get_attribute("aria-sort") == "descending"
        first = visible_rows()[0].find_elements(By.TAG_NAME, "td")[column].get_attribute("data-v")
        assert first and float(first) == max(ascending)  # rows without a parity error stay below
        driver.find_element(By.NAME, "q").send_keys("tinynet-b")
        assert [r.get_attribute("data-source") for r in visible_rows()] == ["tiny-seq"]
        assert re.match(r"1 of \d+ entries shown", driver.find_element(By.ID, "shown").text)
    finally:
        driver.quit()


def test_a_sweep_writes_the_report_of_its_entries_at_its_end(results):
    *_, sweep_report = results
    rows = Page(sweep_report / "entries.html").rows("entries")
    assert sorted(f"{r['data-source']}/{r['data-text'].split()[0].split('/')[1]}" for r in rows) == sorted([TINY_A, TINY_B])
    assert all("converted:random" in r["data-status"].split() for r in rows)
    assert (sweep_report / "arch" / "tinynet_w8.html").is_file() and (sweep_report / "plots" / "parity-errors.svg").is_file()
