"""The design's import rules are executable: `lint-imports` keeps the tree and fails on a back-edge.

Each case copies the packages into a temporary folder, adds one module that crosses a line, and runs
`lint-imports` there with the project's own contracts (``pyproject.toml``). The copy comes first on
the import path, so the linter reads it, not the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "forewarn",
    "infra",
    "ingest",
    "streaming",
    "models",
    "alerts",
    "dashboards",
    "chain",
    "bench",
    "tests",
)
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of every package and the contracts, without caches."""
    root = tmp_path_factory.mktemp("tree")
    for name in PACKAGES:
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    shutil.copy2(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    done = _lint(tree)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout


@pytest.mark.parametrize(
    ("module", "imports", "contract"),
    [
        ("forewarn/contracts/_back_edge.py", "import ingest.contract", "The ground imports no component"),
        ("streaming/_back_edge.py", "import alerts.rules", "Nothing imports alerts or dashboards"),
        ("models/_back_edge.py", "import streaming.window", "Layers follow the data flow"),
        ("alerts/_back_edge.py", "import dashboards.panels", "Layers follow the data flow"),
        ("ingest/_back_edge.py", "import chain.ledger", "Layers follow the data flow"),
        ("tests/unit/streaming/_back_edge.py", "import alerts.rules", "A component's tests cross no line"),
    ],
)
def test_a_back_edge_breaks_its_contract(tree: Path, module: str, imports: str, contract: str) -> None:
    added = tree / module
    added.write_text(f'"""A back-edge on purpose."""\n\n{imports}\n', encoding="utf-8")
    try:
        done = _lint(tree)
    finally:
        added.unlink()
    assert done.returncode == 1, done.stdout[-3000:]
    dotted = module.removesuffix(".py").replace("/", ".")
    assert dotted in done.stdout, done.stdout[-3000:]
    broken = [line for line in done.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(line.startswith(contract) for line in broken), broken
