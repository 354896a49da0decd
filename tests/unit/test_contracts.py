"""`make lint` runs `buf breaking` against the last released contract: the rules it uses
catch what would break clients already built against our protos."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "node_modules" / ".bin" / "buf"


def breaking(workspace: Path) -> subprocess.CompletedProcess[str]:
    """`buf breaking` of a changed copy of the workspace against this one."""
    return subprocess.run(
        [str(BUF), "breaking", str(workspace), "--against", str(ROOT)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip


@pytest.mark.skipif(not BUF.exists(), reason="buf is installed by `make setup` (npm)")
def test_buf_breaking_accepts_additions_and_rejects_a_renumbered_field(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    resources = tmp_path / "protos" / "licentia" / "provenance" / "v1" / "resources.proto"
    text = resources.read_text()

    resources.write_text(text.replace("similarity = 15;\n", "similarity = 15;\n  int32 x = 16;\n"))
    result = breaking(tmp_path)
    assert result.returncode == 0, f"adding a field is compatible: {result.stderr}"

    resources.write_text(text.replace("double similarity = 15;", "double similarity = 16;"))
    result = breaking(tmp_path)
    assert result.returncode != 0
    assert "similarity" in result.stdout + result.stderr
