"""The console's vendored JavaScript is exactly what VENDOR.json pins, with its licence, and no page
names anything outside this machine (the console works offline, Swagger UI included)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

CONSOLE = Path(__file__).parents[3] / "alerts" / "console"
VENDOR = CONSOLE / "static" / "vendor"
MANIFEST = json.loads((VENDOR / "VENDOR.json").read_text())
PAGES = sorted((CONSOLE / "templates").glob("*.html")) + sorted((CONSOLE / "static").rglob("*.html"))
# src="…", href="…", action="…", CSS url(…), and any absolute or protocol-relative URL in the text.
_REF = re.compile(r"""(?:src|href|action)\s*=\s*["']?([^"'\s>]+)|url\(\s*["']?([^"')]+)""", re.IGNORECASE)
_OUTSIDE = re.compile(r"""(?:https?:)?//[\w.-]+""", re.IGNORECASE)


@pytest.mark.parametrize("folder", sorted(MANIFEST))
def test_every_vendored_file_is_the_pinned_one_with_its_licence(folder: str) -> None:
    entry = MANIFEST[folder]
    assert re.fullmatch(r"\d+\.\d+\.\d+", entry["version"]), entry["version"]
    assert entry["license"] in {"0BSD", "MIT", "Apache-2.0"}
    assert entry["integrity"].startswith("sha512-")
    assert f"{folder}/LICENSE" in entry["files"]
    for name, sha256 in entry["files"].items():
        path = VENDOR / name
        assert path.is_file(), f"{name} is in VENDOR.json but missing: run infra/vendor_js.sh"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256, f"{name} differs from its pin"


def test_the_pins_are_the_libraries_the_console_uses() -> None:
    assert {e["package"]: e["version"].split(".")[0] for e in MANIFEST.values()} == {
        "htmx.org": "2",
        "uplot": "1",
        "swagger-ui-dist": "5",
    }
    listed = {name for e in MANIFEST.values() for name in e["files"]}
    on_disk = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file()} - {"VENDOR.json"}
    assert on_disk == listed  # nothing vendored without a pin


def test_the_vendoring_script_pins_what_the_manifest_says() -> None:
    script = (CONSOLE.parents[1] / "infra" / "vendor_js.sh").read_text()
    for folder, entry in MANIFEST.items():
        assert (
            f'"{folder}|{entry["package"]}|{entry["version"]}|{entry["license"]}|{entry["integrity"]}|'
            in script
        )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_name_only_local_urls(page: Path) -> None:
    text = page.read_text()
    for match in _REF.finditer(text):
        ref = match[1] or match[2]
        assert not _OUTSIDE.match(ref), f"{page.name}: {ref} is not on this machine"
        assert not ref.lower().startswith(("javascript:", "data:text/html")), f"{page.name}: {ref}"
    assert not _OUTSIDE.search(re.sub(r"{#.*?#}", "", text, flags=re.DOTALL)), f"{page.name} names a URL"


@pytest.mark.parametrize("sheet", sorted((CONSOLE / "static").rglob("*.css")), ids=lambda p: p.name)
def test_stylesheets_load_nothing_from_outside(sheet: Path) -> None:
    for match in re.finditer(r"""url\(\s*["']?([^"')]+)|@import\s+["']([^"']+)""", sheet.read_text()):
        ref = match[1] or match[2]
        assert ref.startswith("data:") or not _OUTSIDE.match(ref), f"{sheet.name}: {ref[:80]}"


def test_the_checks_catch_an_outside_url() -> None:
    for bad in (
        '<script src="https://cdn.example/x.js">',
        "<link href='//cdn.example/x.css'>",
        "url(http://x.io/a)",
    ):
        assert any(_OUTSIDE.match(m[1] or m[2]) for m in _REF.finditer(bad)), bad
    assert _REF.search('<script src="/console/static/vendor/htmx/htmx.min.js">')
