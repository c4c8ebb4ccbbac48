"""Password hashes: `reporter hash-password` reads the password from stdin; authenticate checks it."""

from __future__ import annotations

from pathlib import Path


def test_hash_password_reads_stdin(tmp_path: Path) -> None:
    import subprocess
    import sys

    from reporter.web.auth import authenticate

    result = subprocess.run(
        [sys.executable, "-m", "reporter", "hash-password"],
        input="correct horse\n",
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    digest = result.stdout.strip()
    assert digest.startswith("$argon2id$")
    assert authenticate({"u": (digest, "viewer")}, "u", "correct horse") is not None
    assert authenticate({"u": (digest, "viewer")}, "u", "wrong") is None
