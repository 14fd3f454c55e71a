"""The wheel: it carries the NHS catalogue, and a fresh virtual environment builds a store."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from typing import TYPE_CHECKING

import pytest

from tests.conftest import BUNDLES, REPO

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

#: The NHS certificates every wheel must carry (the eleven in bundles/).
SHIPPED = sorted(path.name for path in BUNDLES.glob("*.pem"))


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # A PYTHONPATH pointing at a checkout (a developer's loop) would shadow the installed wheel.
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    result = subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout with pip (hatchling fetched for the build)."""
    directory = tmp_path_factory.mktemp("wheel")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--wheel-dir",
            str(directory),
            str(REPO),
        ],
        cwd=directory,
    )
    (built,) = directory.glob("truststore_builder-*.whl")
    return built


def test_wheel_carries_the_catalogue(wheel: Path) -> None:
    """The wheel holds truststore_builder/bundles/manifest.toml, the eleven PEMs and py.typed."""
    assert len(SHIPPED) == 11
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "truststore_builder/bundles/manifest.toml" in names
    assert "truststore_builder/py.typed" in names
    for pem in SHIPPED:
        assert f"truststore_builder/bundles/{pem}" in names


def test_wheel_builds_a_store_in_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    """In a new venv, the wheel's `truststore-builder build --env int` writes pem and p12."""
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    bin_dir = venv / "bin"
    _run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheel)], cwd=tmp_path)
    out = tmp_path / "stores"
    # cwd is tmp_path, not the checkout: the installed package, and its own bundles, are used.
    result = _run(
        [str(bin_dir / "truststore-builder"), "build", "--env", "int", "--out", str(out),
         "--formats", "pem,p12", "--json"],
        cwd=tmp_path,
    )  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["truststore.p12", "truststore.pem"]
    assert result.stdout.count('"read_back_ok": true') == 2
    pem = (out / "truststore.pem").read_text()
    assert pem.count("-----BEGIN CERTIFICATE-----") == 4
    assert "Alias: nhs-ptl-root-authority-g2" in pem
    located = _run(
        [str(bin_dir / "python"), "-c",
         "from truststore_builder._sources.nhs import bundle_directory; print(bundle_directory())"],
        cwd=tmp_path,
    )  # fmt: skip
    assert str(venv) in located.stdout


_CATALOGUE_PROBE = (
    "from truststore_builder import nhs_catalogue, InputError\n"
    "try:\n"
    "    print(nhs_catalogue().directory)\n"
    "except InputError as exc:\n"
    "    print('refused:', exc)\n"
)


def test_a_bundles_directory_beside_the_installed_package_is_never_read(tmp_path: Path) -> None:
    """site-packages/bundles/ (any distribution's name) is not the catalogue; the package's is."""
    site = tmp_path / "site-packages"
    shutil.copytree(
        REPO / "truststore_builder",
        site / "truststore_builder",
        ignore=shutil.ignore_patterns("__pycache__", "bundles"),
    )
    shutil.copytree(BUNDLES, site / "bundles")  # another distribution's top-level bundles/
    environment = {**os.environ, "PYTHONPATH": str(site)}

    def probe() -> str:
        result = subprocess.run(
            [sys.executable, "-c", _CATALOGUE_PROBE],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return result.stdout.strip()

    assert probe() == (
        f"refused: {site / 'truststore_builder' / 'bundles'}: the NHS catalogue is missing from "
        "the installed package (no manifest.toml); reinstall truststore-builder"
    )
    # The control: the same installation with the bundle inside the package reads it there.
    shutil.copytree(BUNDLES, site / "truststore_builder" / "bundles")
    assert probe() == str(site / "truststore_builder" / "bundles")
