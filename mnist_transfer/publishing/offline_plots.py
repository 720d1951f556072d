"""DVC's plots with no network: a `dvc plots show` template with Vega inlined, and the charts as PNGs.

python -m mnist_transfer.publishing.offline_plots template     # .dvc/offline_plots.html
python -m mnist_transfer.publishing.offline_plots pngs         # metrics/plots/*.png
python -m mnist_transfer.publishing.offline_plots screenshot   # metrics/plots/offline_page.png
"""

import argparse
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from mnist_transfer.core import atomic, paths
from mnist_transfer.core.errors import InputError, run_stage

# Where `.dvc/config` (plots.html_template, relative to .dvc/) expects the template.
TEMPLATE = Path(".dvc/offline_plots.html")
PNG_FOLDER = Path("metrics/plots")
SCREENSHOT = PNG_FOLDER / "offline_page.png"
SCREENSHOT_SIZE = (1400, 1000)
# Chromium with no network: every request goes to a closed local port, no name resolves.
OFFLINE_CHROMIUM = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--virtual-time-budget=20000",  # lets Vega finish drawing before the page is taken
)
# DVC fills its templates as Vega-Lite 5 specs; vl-convert bundles that line too.
VEGA_LITE_VERSION = "5.21"
PNG_SCALE = 1.5
# What DVC replaces in a template; the page has no {scripts}, so DVC's CDN tags stay out.
PLACEHOLDERS = ("{plot_divs}", "{refresh_tag}", "{scripts}")

PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>DVC Plot</title>
    <!-- Vega VEGA, Vega-Lite VEGA_LITE and Vega-Embed VEGA_EMBED, inlined from vl-convert-python:
         this page needs no network. Written by `python -m mnist_transfer.publishing.offline_plots template`. -->
    <script>
BUNDLE
    </script>
    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def template_html() -> str:
    """DVC's page, its three CDN scripts replaced by one inlined bundle of them."""
    import vl_convert

    bundle = vl_convert.javascript_bundle(vl_version=VEGA_LITE_VERSION)
    if any(placeholder in bundle for placeholder in PLACEHOLDERS) or "</script" in bundle.lower():
        raise InputError("vl-convert's bundle holds text DVC's template or HTML would misread; pin another version")
    versions = {
        "VEGA_LITE": VEGA_LITE_VERSION,
        "VEGA_EMBED": vl_convert.get_vega_embed_version(),
        "VEGA": vl_convert.get_vega_version(),
    }
    page = PAGE
    for name, version in versions.items():
        page = page.replace(name, version, 1)
    return page.replace("BUNDLE", bundle, 1)


def dvc_plots(*args: str) -> str:
    """The output of `dvc plots <args>`, or an InputError in one line."""
    command = [sys.executable, "-m", "dvc", "plots", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        reason = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()[0]
        raise InputError(f"dvc plots {' '.join(args)} failed: {reason}")
    return result.stdout


def png_name(title: str) -> str:
    """A plot's title as a file name: "Confusion matrix, CNN" -> confusion_matrix_cnn.png."""
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_") + ".png"


def write_pngs(plots: dict, folder: Path) -> list[Path]:
    """Each Vega-Lite chart of `plots` as a PNG in `folder`; images (the grid) are left out."""
    import vl_convert

    written = []
    for title, renders in plots["data"].items():
        for render in renders:
            if render["type"] != "vega":
                continue
            png = vl_convert.vegalite_to_png(render["content"], vl_version=VEGA_LITE_VERSION, scale=PNG_SCALE)
            path = folder / png_name(title)
            atomic.write_bytes(path, png)
            written.append(path)
    if not written:
        raise InputError("dvc plots show found no charts with data; run dvc repro first")
    return written


def screenshot(page: Path, png: Path) -> None:
    """What `page` shows at the top, opened in Chromium with no network, as a small PNG."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise InputError("chromium: not found; apt-get install chromium")
    with tempfile.TemporaryDirectory() as folder:
        shot = Path(folder) / "page.png"
        size = f"--window-size={SCREENSHOT_SIZE[0]},{SCREENSHOT_SIZE[1]}"
        # A profile of its own: two screenshots at once (tests side by side) share no lock.
        profile = f"--user-data-dir={Path(folder) / 'profile'}"
        command = [chromium, *OFFLINE_CHROMIUM, profile, size, f"--screenshot={shot}", page.resolve().as_uri()]
        subprocess.run(command, capture_output=True, timeout=120, check=False)
        if not shot.is_file():
            raise InputError(f"chromium took no screenshot of {page}")
        with Image.open(shot) as image:
            small = image.convert("RGB").quantize(colors=128)
    buffer = io.BytesIO()
    small.save(buffer, format="PNG", optimize=True)
    atomic.write_bytes(png, buffer.getvalue())


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m mnist_transfer.publishing.offline_plots", description=__doc__.splitlines()[0]
    )
    parser.add_argument("what", choices=("template", "pngs", "screenshot"))
    args = parser.parse_args(argv)
    if args.what == "template":
        atomic.write_text(TEMPLATE, template_html())
        print(f"offline_plots: {TEMPLATE} ({TEMPLATE.stat().st_size // 1024} KiB, Vega inlined)")
    elif args.what == "pngs":
        for path in write_pngs(json.loads(dvc_plots("show", "--json")), PNG_FOLDER):
            print(f"offline_plots: {path}")
        # The grid of disagreements too, so that every picture shown comes from this one run.
        grid = PNG_FOLDER / paths.ERRORS_GRID.name
        atomic.write_bytes(grid, paths.ERRORS_GRID.read_bytes())
        print(f"offline_plots: {grid}")
    else:
        with tempfile.TemporaryDirectory() as folder:
            dvc_plots("show", "-o", folder)
            screenshot(Path(folder) / "index.html", SCREENSHOT)
        print(f"offline_plots: {SCREENSHOT}, the page dvc plots show writes, opened with no network")


if __name__ == "__main__":
    run_stage(lambda: main(sys.argv[1:]))
