"""The report opens in a real browser (headless Chromium) and every picture on it loads.

Chromium is the Debian package ``chromium``; ``make browser`` installs it. When it is
missing, the test tries that target once (it needs root and the Debian archive) and is
skipped, with the reason, if Chromium still cannot be found.
"""

from mpi4py import MPI

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from test_render_report import make_result_dir

from fem.render import render_all
from fem.report import write_report, write_study_report

pytestmark = [
    pytest.mark.serial,
    pytest.mark.skipif(MPI.COMM_WORLD.size > 1, reason="the browser runs on one rank only"),
]

ROOT = Path(__file__).resolve().parents[1]
#: Flags of a quiet, offline, throw-away headless Chromium.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
#: Appended to a copy of the page: after the load event, the state of every image as JSON.
IMAGE_CHECK = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var bad = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                .map(function (i) { return i.getAttribute('src'); });
  var out = document.createElement('pre');
  out.id = 'mtz-image-check';
  out.textContent = JSON.stringify({total: imgs.length, bad: bad});
  document.body.appendChild(out);
});
</script>"""


#: Appended to a copy of the 3D page: drawn pixels before and after a mouse drag, as JSON.
CANVAS_CHECK = """<script>
window.addEventListener('load', function () {
  var c = document.getElementById('view');
  function stats() {
    var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, n = 0, red = 0;
    for (var i = 0; i < d.length; i += 4) {
      if (d[i] < 245 || d[i + 1] < 245 || d[i + 2] < 245) n++;
      if (d[i] > d[i + 2] + 60 && d[i] > d[i + 1] + 60) red++;
    }
    return {painted: n, red: red, total: d.length / 4, url: c.toDataURL().length};
  }
  var before = stats(), code = c.toDataURL();
  function ev(type, x, y) {
    c.dispatchEvent(new PointerEvent(type, {clientX: x, clientY: y, pointerId: 1, bubbles: true}));
  }
  ev('pointerdown', 200, 200); ev('pointermove', 330, 240); ev('pointerup', 330, 240);
  var after = stats();
  var out = document.createElement('pre');
  out.id = 'mtz-canvas-check';
  out.textContent = JSON.stringify({before: before, after: after, changed: c.toDataURL() !== code,
                                    drawn: Number(document.body.getAttribute('data-drawn'))});
  document.body.appendChild(out);
});
</script>"""


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def chromium() -> str:
    """Path of the chromium binary; tries ``make browser`` once, else skips with the reason."""
    path = _find_chromium()
    if path:
        return path
    if os.environ.get("MTZ_NO_BROWSER_INSTALL"):
        pytest.skip("no chromium on PATH and MTZ_NO_BROWSER_INSTALL is set (run `make browser`)")
    if shutil.which("apt-get") is None or shutil.which("make") is None:
        pytest.skip("no chromium on PATH and no apt-get/make to install it (Debian `chromium`)")
    try:
        run = subprocess.run(
            ["make", "-C", str(ROOT), "browser"],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.skip("no chromium: `make browser` timed out")
    path = _find_chromium()
    if not path:
        tail = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
        pytest.skip(f"no chromium: `make browser` failed (needs root and apt): {tail[0]}")
    return path


def _run_chromium(chromium: str, *args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="mtz-chromium-") as profile:
        return subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def _probe(chromium: str, page: Path, script: str, result_id: str) -> dict:
    """Open a copy of ``page`` with ``script`` appended and return the JSON it leaves in the DOM."""
    html = page.read_text(encoding="utf-8")
    assert "</body>" in html
    probe = page.with_name(page.stem + "_check.html")
    probe.write_text(html.replace("</body>", script + "</body>"), encoding="utf-8")
    try:
        run = _run_chromium(
            chromium, "--window-size=900,700", "--virtual-time-budget=10000", "--dump-dom",
            probe.as_uri(),
        )
    finally:
        probe.unlink()
    match = re.search(rf'<pre id="{result_id}">(.*?)</pre>', run.stdout, flags=re.DOTALL)
    assert match, f"no result from chromium (exit {run.returncode}): {run.stderr[-2000:]}"
    return json.loads(match.group(1))


def image_check(chromium: str, page: Path) -> dict:
    """Open a copy of ``page`` (same folder, so relative links hold) and report its images.

    Returns:
        ``{"total": number of <img>, "bad": [src of those not loaded]}``.
    """
    return _probe(chromium, page, IMAGE_CHECK, "mtz-image-check")


def screenshot(chromium: str, page: Path, height: int = 3000) -> Path:
    """``<page>_screenshot.png`` next to the page, 1300 px wide."""
    png = page.with_name(page.stem + "_screenshot.png")
    run = _run_chromium(
        chromium, f"--window-size=1300,{height}", f"--screenshot={png}", page.as_uri()
    )
    assert png.is_file(), f"no screenshot (exit {run.returncode}): {run.stderr[-2000:]}"
    return png


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """A study of two synthetic cases, each rendered (with the animation) and reported."""
    study = tmp_path_factory.mktemp("study")
    rows = []
    for name in ("low", "high"):
        case = make_result_dir(study / name, n_xy=7, n_z=15, frames=True)
        render_all(case)
        write_report(case)
        rows.append({"case": name, "energy_mJ": 5.0 if name == "low" else 20.0})
    write_study_report(study, rows, [study / "low" / "renders" / "probes.png"],
                       common_view=False)
    return study


def test_case_report_in_chromium(chromium: str, study: Path) -> None:
    """Every image of a case report (PNG renders and the GIF) has loaded in Chromium."""
    page = study / "low" / "report.html"
    result = image_check(chromium, page)
    srcs = re.findall(r'<img src="([^"]+)"', page.read_text(encoding="utf-8"))
    assert result["total"] == len(srcs) >= 13  # twelve pictures and the animation
    assert any(s.endswith(".gif") for s in srcs)
    assert result["bad"] == []

    png = screenshot(chromium, page)
    from PIL import Image

    pixels = np.asarray(Image.open(png).convert("RGB"), dtype=float)
    assert pixels.shape[1] == 1300 and pixels.std() > 20.0


def test_interactive_view_in_chromium(chromium: str, study: Path) -> None:
    """The 3D page draws the surfaces on its canvas and redraws them when dragged."""
    page = study / "low" / "renders" / "view3d.html"
    result = _probe(chromium, page, CANVAS_CHECK, "mtz-canvas-check")
    before, after = result["before"], result["after"]
    assert before["total"] > 100_000
    assert 0.01 * before["total"] < before["painted"] < 0.9 * before["total"]
    assert before["red"] > 300  # the coagulation column
    assert result["drawn"] >= 2 and result["changed"]
    assert after["red"] > 300


def test_study_report_in_chromium(chromium: str, study: Path) -> None:
    """The study page loads its plot and the thumbnails of its cases."""
    page = study / "report.html"
    result = image_check(chromium, page)
    assert result["total"] >= 3 and result["bad"] == []
    screenshot(chromium, page, height=1600)


def test_missing_image_is_caught(chromium: str, study: Path, tmp_path: Path) -> None:
    """The check can fail: a page whose picture is missing reports it."""
    page = tmp_path / "broken.html"
    shutil.copy(study / "low" / "renders" / "probes.png", tmp_path / "there.png")
    page.write_text(
        '<!DOCTYPE html><html><body><img src="there.png"><img src="missing.png"></body></html>'
    )
    assert image_check(chromium, page) == {"total": 2, "bad": ["missing.png"]}
