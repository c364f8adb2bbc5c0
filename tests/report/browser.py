"""Headless Chromium for the report tests: lay a page out in a frame of a given width, say how
wide its content is, and take a screenshot."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--allow-file-access-from-files")


def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("headless Chromium is missing in CI: .ci/run installs the chromium package")
        pytest.skip("headless Chromium is not installed (Debian package chromium)")
    return CHROMIUM


def _frame(page: Path, width: int, height: int) -> Path:
    wrapper = page.with_name(f"frame-{width}-{page.name}")
    wrapper.write_text(
        '<!DOCTYPE html><html><body style="margin:0;background:#fff">'
        f'<iframe id="f" src="{page.name}" style="width:{width}px;height:{height}px;border:0">'
        '</iframe><script>document.getElementById("f").onload=function(){'
        "var d=this.contentDocument.documentElement;"
        'document.body.setAttribute("data-content", d.scrollWidth+"x"+d.scrollHeight);'
        'document.body.setAttribute("data-view", d.clientWidth);};</script></body></html>',
        encoding="utf-8",
    )
    return wrapper


def content_width(page: Path, width: int) -> tuple[int, int]:
    """(content width, frame width) of ``page`` laid out ``width`` pixels wide."""
    wrapper = _frame(page, width, 800)
    out = subprocess.run(
        [chromium(), *_FLAGS, f"--user-data-dir={page.parent / 'profile'}",
         "--virtual-time-budget=5000", "--window-size=1300,900", "--dump-dom", wrapper.as_uri()],
        check=True, timeout=90, capture_output=True, text=True,
    ).stdout
    content = re.search(r'data-content="(\d+)x(\d+)"', out)
    view = re.search(r'data-view="(\d+)"', out)
    assert content and view, out[-500:]
    return int(content[1]), int(view[1])


def screenshot(page: Path, width: int, height: int, shot: Path) -> Path:
    """A picture of ``page`` laid out ``width`` pixels wide (its first ``height`` pixels)."""
    wrapper = _frame(page, width, height)
    subprocess.run(
        [chromium(), *_FLAGS, f"--user-data-dir={page.parent / 'profile'}",
         "--virtual-time-budget=5000", f"--window-size={max(width, 500)},{height}",
         f"--screenshot={shot}", wrapper.as_uri()],
        check=True, timeout=90, capture_output=True,
    )
    return shot
