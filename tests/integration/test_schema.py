"""The Alembic migrations create exactly the schema the code declares, on both databases."""

from __future__ import annotations

import subprocess
import sys


def test_migrations_match_metadata(database_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "check"],
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
