"""Client presets (build --preset, a recipe's [[presets]]): each client's files, read by it."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests import test_java_tls
from tests.commands import PASSWORD_VARIABLE, keytool
from tests.commands import run_cli as run
from tests.java_client import EXIT_ACCEPTED, outcome, run_java_client
from tests.test_cli import PLANTED
from truststore_builder import NonAlphanumericPasswordWarning, RecipeError
from truststore_builder.recipe import load_recipe

if TYPE_CHECKING:
    from tests.pki import GeneratedPki

#: The module-scoped mutual TLS server (CERT_REQUIRED, trusting the G1-like and G2-like CAs).
server = test_java_tls.server

#: Letters and digits only, as NHS England advises for meshclient.cfg.
ALPHANUMERIC = "Mesh2026keystore"


@pytest.fixture
def client(pki: GeneratedPki, tmp_path: Path) -> list[str]:
    """The options naming a G2-like client and its CAs (added to the int trust)."""
    chain, key = pki.g2.write_client(tmp_path, "g2")
    cas = tmp_path / "test-cas.pem"
    cas.write_bytes(pki.g2.root.cert_pem() + pki.g2.intermediate.cert_pem())
    return ["--env", "int", "--add", str(cas), "--cert", str(chain), "--key", str(key)]


def _keytool_list(store: Path, store_type: str, password: str) -> str:
    done = keytool(
        "-list", "-v", "-keystore", store, "-storetype", store_type,
        "-storepass:env", PASSWORD_VARIABLE, password=password,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _key_password_is_store_password(store: Path, store_type: str, password: str, tmp: Path) -> bool:
    """Whether keytool copies the key entry given the store password only (no -srckeypass)."""
    done = keytool(
        "-importkeystore", "-srckeystore", store, "-srcstoretype", store_type,
        "-srcstorepass:env", PASSWORD_VARIABLE, "-destkeystore", tmp / "copy.p12",
        "-deststoretype", "PKCS12", "-deststorepass:env", PASSWORD_VARIABLE, "-noprompt",
        password=password,
    )  # fmt: skip
    (tmp / "copy.p12").unlink(missing_ok=True)
    return done.returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("preset", "store_type"), [("mesh-java", "JKS"), ("mesh-java-p12", "PKCS12")]
)
def test_mesh_java_preset(
    client: list[str],
    server: tuple[str, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    preset: str,
    store_type: str,
) -> None:
    """KEYSTORE/mesh.keystore alone: key entry + CAs, key password = store password, read by keytool and JSSE."""
    monkeypatch.setenv(PASSWORD_VARIABLE, ALPHANUMERIC)
    home = tmp_path / "MESH-APP-HOME"
    status, stdout, stderr = run(
        [
            "build",
            "--preset",
            preset,
            *client,
            "--password-env",
            PASSWORD_VARIABLE,
            "--out",
            str(home),
        ],
        capsys,
    )
    assert status == 0, stderr
    assert "warning" not in stderr  # the alphanumeric password is the control
    store = home / "KEYSTORE" / "mesh.keystore"
    assert [p.relative_to(home) for p in home.rglob("*") if p.is_file()] == [
        Path("KEYSTORE/mesh.keystore")
    ]
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    listing = _keytool_list(store, store_type, ALPHANUMERIC)
    assert listing.count("Entry type: PrivateKeyEntry") == 1
    assert listing.count("Entry type: trustedCertEntry") == 6  # four NHS INT CAs, two test CAs
    assert _key_password_is_store_password(store, store_type, ALPHANUMERIC, tmp_path)
    result = run_java_client(
        *server,
        keystore=store,
        keystore_type=store_type,
        keystore_password=ALPHANUMERIC,
        truststore=store,
        truststore_type=store_type,
        truststore_password=ALPHANUMERIC,
    )
    assert (result.returncode, outcome(result)) == (EXIT_ACCEPTED, "ACCEPTED"), result.stderr
    assert str(store) in stdout


@pytest.mark.slow
def test_a_separate_key_password_fails_the_same_probe(
    client: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The control: a JKS whose key password differs is refused by keytool given the store password only."""
    monkeypatch.setenv(PASSWORD_VARIABLE, ALPHANUMERIC)
    monkeypatch.setenv("OTHER_KEY_PASSWORD", "Another1")
    out = tmp_path / "out"
    status, _, stderr = run(
        ["build", *client, "--password-env", PASSWORD_VARIABLE, "--formats", "jks",
         "--jks-key-password-env", "OTHER_KEY_PASSWORD", "--out", str(out)],
        capsys,
    )  # fmt: skip
    assert status == 0, stderr
    assert not _key_password_is_store_password(out / "keystore.jks", "JKS", ALPHANUMERIC, tmp_path)


def test_a_password_not_alphanumeric_is_warned_about_never_shown(
    client: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """mesh-java with a '£' in the password: one warning line naming the rule, not the password."""
    monkeypatch.setenv(PASSWORD_VARIABLE, "Pound£Sign-1")
    status, stdout, stderr = run(
        ["build", "--preset", "mesh-java", *client, "--password-env", PASSWORD_VARIABLE,
         "--out", str(tmp_path / "home")],
        capsys,
    )  # fmt: skip
    assert status == 0, stderr
    assert "Pound" not in stdout + stderr
    assert stderr.count("the mesh-java password holds characters other than ASCII letters") == 1
    assert (tmp_path / "home/KEYSTORE/mesh.keystore").exists()


@pytest.mark.slow
def test_tkw_preset(
    client: list[str],
    server: tuple[str, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """TKW's key store (the key entry only) and trust store (the CAs), one password, read by JSSE."""
    monkeypatch.setenv(PASSWORD_VARIABLE, PLANTED)
    out = tmp_path / "tkw"
    status, stdout, stderr = run(
        [
            "build",
            "--preset",
            "tkw",
            *client,
            "--password-env",
            PASSWORD_VARIABLE,
            "--out",
            str(out),
        ],
        capsys,
    )
    assert status == 0, stderr
    assert PLANTED not in stdout + stderr
    assert sorted(p.name for p in out.iterdir()) == ["tkw-keystore.jks", "tkw-truststore.jks"]
    keys = _keytool_list(out / "tkw-keystore.jks", "JKS", PLANTED)
    assert (keys.count("PrivateKeyEntry"), keys.count("trustedCertEntry")) == (1, 0)
    trust = _keytool_list(out / "tkw-truststore.jks", "JKS", PLANTED)
    assert (trust.count("PrivateKeyEntry"), trust.count("trustedCertEntry")) == (0, 6)
    assert _key_password_is_store_password(out / "tkw-keystore.jks", "JKS", PLANTED, tmp_path)
    # As TKW sets them: javax.net.ssl.keyStore/-Password and trustStore/-Password.
    result = run_java_client(
        *server,
        keystore=out / "tkw-keystore.jks",
        keystore_type="JKS",
        keystore_password=PLANTED,
        truststore=out / "tkw-truststore.jks",
        truststore_type="JKS",
        truststore_password=PLANTED,
    )
    assert (result.returncode, outcome(result)) == (EXIT_ACCEPTED, "ACCEPTED"), result.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--formats", "p12"], "leave out --formats"),
        (["--jks-key-password-env", "X"], "leave out --jks-key-password-env"),
        (["--encrypt-key-pem"], "leave out --encrypt-key-pem"),
    ],
)
def test_preset_refuses_what_it_decides(
    client: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    """A preset sets the files and the key password: options that would change them are refused."""
    monkeypatch.setenv(PASSWORD_VARIABLE, ALPHANUMERIC)
    out = tmp_path / "out"
    argv = ["build", "--preset", "mesh-java", *client, "--password-env", PASSWORD_VARIABLE,
            "--out", str(out), *extra]  # fmt: skip
    status, _, stderr = run(argv, capsys)
    assert status == 2
    assert message in stderr
    assert not out.exists()


def test_preset_needs_identity_and_the_right_password(
    client: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """mesh-java needs the identity and a password; mesh-python takes none."""
    monkeypatch.setenv(PASSWORD_VARIABLE, ALPHANUMERIC)
    out = str(tmp_path / "out")
    status, _, stderr = run(
        ["build", "--preset", "mesh-java", "--env", "int", "--password-env", PASSWORD_VARIABLE,
         "--out", out],
        capsys,
    )  # fmt: skip
    assert (status, "writes the client's key" in stderr) == (2, True)
    status, _, stderr = run(["build", "--preset", "mesh-java", *client, "--out", out], capsys)
    assert (status, "needs a password" in stderr) == (2, True)
    status, _, stderr = run(
        ["build", "--preset", "mesh-python", *client, "--password-env", PASSWORD_VARIABLE,
         "--out", out],
        capsys,
    )  # fmt: skip
    assert (status, "take no password" in stderr) == (2, True)
    assert not Path(out).exists()


def test_recipe_presets(pki: GeneratedPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """[[presets]] writes the preset's files under its directory; a bad one names its key."""
    chain, key = pki.g2.write_client(tmp_path, "g2")
    (tmp_path / "cas.pem").write_bytes(pki.g2.root.cert_pem() + pki.g2.intermediate.cert_pem())
    monkeypatch.setenv("MESH_PASSWORD", "Not alphanumeric!")
    recipe = tmp_path / "r.toml"
    base = f"""
[trust]
environments = ["int"]
add = ["cas.pem"]
[identity]
cert = "{chain.name}"
key = "{key.name}"
"""
    recipe.write_text(
        base
        + '[[presets]]\nname = "mesh-java"\ndirectory = "home"\npassword_env = "MESH_PASSWORD"\n'
        '[[presets]]\nname = "mesh-python"\ndirectory = "py"\n',
        encoding="utf-8",
    )
    with pytest.warns(
        NonAlphanumericPasswordWarning, match=r"presets\[0\]: the mesh-java password"
    ):
        result = load_recipe(recipe).build()
    assert [file.path.relative_to(tmp_path) for file in result.files] == [
        Path("home/KEYSTORE/mesh.keystore"),
        Path("py/client-cert.pem"),
        Path("py/client-key.pem"),
        Path("py/ca-bundle.pem"),
    ]
    assert stat.S_IMODE((tmp_path / "py/client-key.pem").stat().st_mode) == 0o600
    for table, message in (
        (
            '[[presets]]\nname = "mesh-jav"\ndirectory = "x"\n',
            r"presets\[0\]\.name: unknown client preset",
        ),
        ('[[presets]]\nname = "tkw"\ndirectory = "x"\n', r"presets\[0\]\.password_env: missing"),
    ):
        recipe.write_text(base + table, encoding="utf-8")
        with pytest.raises(RecipeError, match=message):
            load_recipe(recipe)
