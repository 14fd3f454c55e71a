"""Dependencies: without pyjks, writing JKS and JCEKS stores gives a clear typed error; all else works.

pyjks is imported only to write JKS and JCEKS stores: every store is read (with its password or
without) without it. A process where ``import jks`` fails (``sys.modules["jks"] = None``, run in
a subprocess so that this one keeps its pyjks) must still import the package, read and write
PEM, DER, PKCS#7 and PKCS#12, read JKS stores, and answer what needs pyjks with an error naming
it, having written nothing.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import version
from typing import TYPE_CHECKING

from tests.conftest import REPO

if TYPE_CHECKING:
    from pathlib import Path

_SCRIPT = r"""
import sys
import warnings
sys.modules["jks"] = None  # import jks now raises ImportError, as if pyjks were not installed
from pathlib import Path
import truststore_builder as tb
from truststore_builder._cli import main
from truststore_builder._formats.jks import serialize_jks_keystore

assert "jks" not in {m for m in sys.modules if sys.modules[m] is not None}
directory = Path(sys.argv[1])
store = tb.TrustStoreBuilder().add_nhs("int").build()
pem, p12 = store.to_pem(), store.to_pkcs12("pw-1234")
(directory / "t.pem").write_bytes(pem)
(directory / "t.p12").write_bytes(p12)
assert len(tb.read_store(directory / "t.p12", password="pw-1234")) == len(store.entries)
assert len(tb.load_certificates(directory / "t.pem")) == len(store.entries)
# Reading JKS needs no pyjks, with the password or without.
assert len(tb.read_store(Path(sys.argv[2]), password="pw-1234")) == len(store.entries)
# Read without the password too (the digest unchecked, with a warning).
with warnings.catch_warnings(record=True):
    assert len(tb.read_store(Path(sys.argv[2]))) == len(store.entries)
for action in (
    # Writing does: pyjks is asked for before the (here absent) key is looked at.
    lambda: serialize_jks_keystore(alias="a", key=None, chain=[], trusted=[], password=b"pw"),
    lambda: store.to_jks("pw-1234"),
    lambda: store.serialize(tb.StoreFormat.JCEKS, "pw-1234"),
):
    try:
        action()
    except tb.TruststoreBuilderError as exc:
        assert "pyjks" in str(exc), exc
        print(type(exc).__name__, exc)
    else:
        raise AssertionError("no error without pyjks")
assert main(["build", "--env", "int", "--formats", "pem,p12", "--out", str(directory / "out"),
             "--password-env", "PW"]) == 0
assert main(["inspect", sys.argv[2], "--password-env", "PW"]) == 0
assert main(["inspect", sys.argv[2]]) == 0
assert main(["build", "--env", "int", "--formats", "jks", "--out", str(directory / "jks"),
             "--password-env", "PW"]) == 2
assert not (directory / "jks").exists()
assert "jks" not in {m for m in sys.modules if sys.modules[m] is not None}
"""


def test_without_pyjks_only_jks_fails_clearly(tmp_path: Path) -> None:
    """Writing JKS and JCEKS stores needs pyjks and says so; all else works, reading JKS too."""
    from truststore_builder import TrustStoreBuilder  # noqa: PLC0415

    jks_file = tmp_path / "store.jks"
    jks_file.write_bytes(TrustStoreBuilder().add_nhs("int").build().to_jks("pw-1234"))
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path), str(jks_file)],
        capture_output=True,
        text=True,
        env={"PW": "pw-1234", "PATH": "/usr/bin:/bin"},
        cwd=REPO,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "Error" in line]
    assert len(lines) == 3
    assert all(
        line.startswith("TruststoreBuilderError writing JKS and JCEKS stores needs pyjks")
        for line in lines
    )
    refusal = (
        "truststore-builder: error: writing JKS and JCEKS stores needs pyjks, which is not "
        "installed (pip install pyjks)"
    )
    assert [line for line in result.stderr.splitlines() if "error:" in line] == [refusal]
    warned = [line for line in result.stderr.splitlines() if "warning:" in line]
    assert warned == [
        (
            f"truststore-builder: warning: {jks_file}: read without its password: the JKS store's "
            "integrity was not checked (as keytool warns); give the password to check it"
        )
    ]
    assert (tmp_path / "out" / "truststore.p12").exists()


def _minimum(requirement: str) -> tuple[str, str]:
    name, _, minimum = requirement.partition(">=")
    return name.strip(), minimum.strip()


def _as_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def test_installed_versions_meet_the_pinned_minimums() -> None:
    """Every dependency is pinned with a minimum, and what is installed here meets it."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["certifi"]]
    pins = dict(_minimum(r) for r in requirements)
    assert set(pins) >= {"attrs", "cryptography", "pyjks", "certifi"}
    for name, minimum in pins.items():
        assert minimum, f"{name} has no minimum version"
        assert _as_tuple(version(name)) >= _as_tuple(minimum), name
