"""`pip install .` (not editable), then `coherence migrate` from another directory, up and down."""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
# The newest migration's revision ID (files are named by it), so adding one needs no edit here.
HEAD = max(p.name[:4] for p in (ROOT / "storage" / "migrations" / "versions").glob("0*.py"))
SOURCES = ["pyproject.toml", "README.md", "LICENSE", "bot", "pulses", "storage", "sandbox"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the package installed from a copy of the sources; its bin folder.

    Dependencies come from this environment's site-packages (a .pth line), which keeps the
    test fast and offline apart from the build backend pip fetches.
    """
    base = tmp_path_factory.mktemp("install")
    source = base / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy(path, source / name)
    shutil.copytree(ROOT / "benchmarks", source / "benchmarks", ignore=ignore)
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--disable-pip-version-check",
            str(source),
        ],
        check=True,
        timeout=300,
    )
    return env_dir / "bin"


def migrate(bin_dir: Path, cwd: Path, url: str, *args: str) -> str:
    env = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin", "DATABASE_URL": url}
    result = subprocess.run(
        [bin_dir / "coherence", "migrate", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout.strip()


def test_the_installed_package_is_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [installed / "python", "-c", "import storage.migrate as m; print(m.MIGRATIONS_DIR)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(ROOT) not in where
    assert (Path(where.strip()) / "env.py").is_file()


def test_migrate_up_down_and_up_on_sqlite_from_another_directory(
    installed: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'coherence.db'}"
    assert migrate(installed, tmp_path, url).endswith(f"→ {HEAD}")
    assert migrate(installed, tmp_path, url, "--revision", "base") == (
        f"Database schema: {HEAD} → empty"
    )
    assert migrate(installed, tmp_path, url) == f"Database schema: empty → {HEAD}"


def test_migrate_up_down_and_up_on_postgresql(
    installed: Path, tmp_path: Path, postgres_url: str
) -> None:
    # The fixture's database is at head already; spelled as hosts hand it out.
    url = make_url(postgres_url).set(drivername="postgres").render_as_string(hide_password=False)
    assert migrate(installed, tmp_path, url, "--revision", "base") == (
        f"Database schema: {HEAD} → empty"
    )
    assert migrate(installed, tmp_path, url) == f"Database schema: empty → {HEAD}"
    assert migrate(installed, tmp_path, url, "--revision", "0002") == (
        f"Database schema: {HEAD} → 0002"
    )
