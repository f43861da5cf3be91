"""`forewarn dashboards build` writes the boards and provisioning files, and rewrites nothing twice."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from chain.cli import app
from dashboards.provisioning_files import files
from dashboards.render import build_all, dumps


def test_build_writes_every_board_and_is_stable(tmp_path: Path) -> None:
    out, prov = tmp_path / "json", tmp_path / "provisioning"
    args = ["dashboards", "build", "--out", str(out), "--provisioning-out", str(prov)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    boards = build_all()
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{uid}.json" for uid in boards)
    for uid, doc in boards.items():
        assert (out / f"{uid}.json").read_text(encoding="utf-8") == dumps(doc)
    for relative, text in files().items():
        assert (prov / relative).read_text(encoding="utf-8") == text
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0
    assert "wrote" not in second.output
    assert second.output.count("unchanged") == len(boards) + len(files())
