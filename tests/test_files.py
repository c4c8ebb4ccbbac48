"""File helpers: atomic writes keep the ordinary mode of a file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reporter.files import write_atomic


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_write_atomic_gives_the_umask_mode_not_0600(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        write_atomic(tmp_path / "report.pdf", b"%PDF-1.7")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "report.pdf").stat().st_mode) == mode
    assert (tmp_path / "report.pdf").read_bytes() == b"%PDF-1.7"
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]
