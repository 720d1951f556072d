"""DVC's plots with no network: the pages `dvc plots show` and `dvc plots diff` write,
opened in a real headless Chromium whose every request goes nowhere, draw every chart;
and the charts come out as PNGs for the README."""

import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from PIL import Image

from tests.conftest import ROOT, dvc, run, system_file

# The Vega-Lite plots dvc.yaml declares: two confusion matrices, two curves; the grid is an image.
CHARTS = sum(1 for plot in yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"] if isinstance(plot, dict))
# No network at all: every request to a proxy on a closed local port, no name resolves.
CHROMIUM_OFFLINE = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--virtual-time-budget=20000",
)


class DrawnCharts(HTMLParser):
    """The ids of the <div>s that hold a chart Vega drew: an <svg> or <canvas> of class "marks"."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str | None] = []  # the ids of the <div>s open where the parser is
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "div":
            self.open.append(attributes.get("id"))
        elif tag in ("svg", "canvas") and "marks" in (attributes.get("class") or "").split():
            self.ids.update(i for i in self.open if i)

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self.open:
            self.open.pop()


def charts_drawn_offline(page: Path) -> tuple[int, int]:
    """(the charts DVC wrote into `page`, how many of them Chromium drew with no network)."""
    # DVC writes each chart as <div id="..."> holding a script that calls vegaEmbed('#...', spec).
    plots = set(re.findall(r"vegaEmbed\('#([^']+)'", page.read_text()))
    path = shutil.which("chromium")
    if path is None:
        system_file(Path("/usr/bin/chromium"), "chromium")  # skips, or fails in CI
    dom = subprocess.run(
        [path, *CHROMIUM_OFFLINE, "--dump-dom", page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    ).stdout
    drawn = DrawnCharts()
    drawn.feed(dom)
    return len(plots), len(plots & drawn.ids)


@pytest.fixture(scope="module")
def plotted(pipeline, tmp_path_factory) -> Path:
    """A copy of the reproduced pipeline with the offline template written, as `make setup` writes it."""
    repo = tmp_path_factory.mktemp("plots") / "repo"
    shutil.copytree(pipeline, repo, symlinks=True)
    result = run([sys.executable, "-m", "mnist_transfer.publishing.offline_plots", "template"], repo)
    assert "offline_plots: .dvc/offline_plots.html" in result.stdout
    return repo


def test_the_template_inlines_vega_and_loads_nothing(plotted):
    page = (plotted / ".dvc/offline_plots.html").read_text()
    assert "{plot_divs}" in page and "{scripts}" not in page
    assert "<script src" not in page and "cdn.jsdelivr" not in page
    assert "window.vegaEmbed" in page
    assert "plots.html_template" in dvc(plotted, "config", "--list")


def test_dvc_plots_show_draws_every_chart_with_no_network(plotted):
    dvc(plotted, "plots", "show")
    assert charts_drawn_offline(plotted / "dvc_plots/index.html") == (CHARTS, CHARTS)


def test_dvc_plots_diff_draws_every_chart_with_no_network(plotted):
    dvc(plotted, "plots", "diff", "HEAD", "-o", "diff_plots")  # HEAD against the workspace
    assert charts_drawn_offline(plotted / "diff_plots/index.html") == (CHARTS, CHARTS)


def test_dvcs_own_page_stays_blank_with_no_network(plotted, tmp_path):
    """The control: DVC's default page, which loads Vega from a CDN, draws nothing here, so
    the browser above really had no network."""
    from dvc_render.html import PAGE_HTML

    template = tmp_path / "cdn.html"
    template.write_text(PAGE_HTML)
    dvc(plotted, "plots", "show", "--html-template", str(template), "-o", "cdn_plots")
    assert charts_drawn_offline(plotted / "cdn_plots/index.html") == (CHARTS, 0)


def test_the_charts_come_out_as_pngs(plotted):
    shutil.rmtree(plotted / "metrics/plots")  # the committed ones, of the full run
    result = run([sys.executable, "-m", "mnist_transfer.publishing.offline_plots", "pngs"], plotted)
    written = sorted(p.name for p in (plotted / "metrics/plots").iterdir())
    # No digits from elsewhere in this pipeline (SMALL_PARAMS), so no charts of them.
    assert written == [
        "confusion_matrix_cnn.png",
        "confusion_matrix_frozen_backbone_head.png",
        "disagreements.png",
        "training_accuracy_within_the_epochs.png",
        "training_loss_per_epoch.png",
        "training_loss_within_the_epochs.png",
        "validation_accuracy_per_epoch.png",
    ], result.stdout
    assert (plotted / "metrics/plots/disagreements.png").read_bytes() == (
        plotted / "data/disagreements.png"
    ).read_bytes()
    for name in written:
        with Image.open(plotted / "metrics/plots" / name) as image:
            assert image.format == "PNG" and min(image.size) > 200
