"""Renewing in place: the CA's reply taken into the old key store (build --identity-from)."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.commands import PASSWORD_VARIABLE, keytool, openssl
from tests.commands import run_cli as run
from tests.pki import sign_request
from tests.test_cli import PLANTED, trusted_aliases
from truststore_builder._diff import diff_stores
from truststore_builder.recipe import load_recipe

if TYPE_CHECKING:
    from pathlib import Path

    from tests.pki import GeneratedPki

SUBJECT = "CN=x26abc1.a1b2c.api.mesh-client.nhs.uk,OU=Devices,O=nhs"
ALIAS = "mesh-client"


def _keytool(*arguments: str | Path) -> str:
    """Run keytool with the planted password for store and key; fails the test when it fails."""
    done = keytool(
        *arguments,
        "-storepass:env",
        PASSWORD_VARIABLE,
        password=PLANTED,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _sign(pki: GeneratedPki, request: Path, *, days: int) -> bytes:
    """The test CA's reply to a keytool request, as PEM."""
    csr = x509.load_pem_x509_csr(request.read_bytes())
    issued = sign_request(
        csr,
        pki.g2.intermediate,
        not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=days),
    )
    return issued.public_bytes(serialization.Encoding.PEM)


def _exported(store: Path) -> x509.Certificate:
    """The key entry's certificate as keytool -exportcert gives it."""
    return x509.load_pem_x509_certificate(
        _keytool("-exportcert", "-rfc", "-alias", ALIAS, "-keystore", store).encode()
    )


def _public_key_pem(certificate: x509.Certificate) -> bytes:
    """The certificate's public key as OpenSSL prints it (another reader than ours)."""
    return openssl(
        "x509", "-noout", "-pubkey", data=certificate.public_bytes(serialization.Encoding.PEM)
    )


@pytest.fixture
def keytool_store(pki: GeneratedPki, tmp_path: Path) -> Path:
    """A JKS made the way a supplier made it: keytool's key pair, CA reply, trusted CAs."""
    store = tmp_path / "old" / "mesh.keystore"
    store.parent.mkdir()
    common: list[str | Path] = ["-keystore", store, "-storetype", "JKS"]
    _keytool(
        "-genkeypair", "-alias", ALIAS, "-keyalg", "RSA", "-keysize", "2048",
        "-dname", SUBJECT, "-validity", "30", "-keypass:env", PASSWORD_VARIABLE, *common,
    )  # fmt: skip
    for alias, issued in (("test-root", pki.g2.root), ("test-intermediate", pki.g2.intermediate)):
        ca = tmp_path / f"{alias}.pem"
        ca.write_bytes(issued.cert_pem())
        _keytool("-importcert", "-noprompt", "-trustcacerts", "-alias", alias, "-file", ca, *common)
    request = tmp_path / "first.csr"
    _keytool("-certreq", "-alias", ALIAS, "-file", request, *common)
    first = tmp_path / "first-reply.pem"
    first.write_bytes(_sign(pki, request, days=60))
    _keytool("-importcert", "-alias", ALIAS, "-file", first, *common)
    return store


@pytest.mark.slow
def test_keytool_store_takes_the_renewed_certificate(
    pki: GeneratedPki,
    keytool_store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A keytool JKS, a new keytool -certreq signed by the CA, build --identity-from: same key, new certificate."""
    monkeypatch.setenv(PASSWORD_VARIABLE, PLANTED)
    request = tmp_path / "renewal.csr"
    _keytool("-certreq", "-alias", ALIAS, "-keystore", keytool_store, "-file", request)
    reply = tmp_path / "renewal-reply.pem"
    reply.write_bytes(_sign(pki, request, days=3 * 365))
    out = tmp_path / "new"
    status, stdout, stderr = run(
        [
            "build", "--env", "int", "--identity-from", str(keytool_store), "--cert", str(reply),
            "--password-env", PASSWORD_VARIABLE, "--formats", "jks", "--out", str(out), "--json",
        ],
        capsys,
    )  # fmt: skip
    assert status == 0, stderr
    assert PLANTED not in stdout + stderr
    assert json.loads(stdout)["client"]["files"] == [str(out / "keystore.jks")]
    new = out / "keystore.jks"

    listing = _keytool("-list", "-v", "-keystore", new)
    renewed = x509.load_pem_x509_certificate(reply.read_bytes())
    assert f"Alias name: {ALIAS}" in listing
    assert f"Serial number: {renewed.serial_number:x}" in listing
    kinds = trusted_aliases(_keytool("-list", "-keystore", new))
    assert kinds.pop(ALIAS) == "PrivateKeyEntry"
    assert "trustedCertEntry" in set(kinds.values())
    old_certificate, new_certificate = _exported(keytool_store), _exported(new)
    assert new_certificate == renewed
    assert old_certificate != new_certificate
    assert _public_key_pem(old_certificate) == _public_key_pem(new_certificate)
    # keytool reads the new key entry with the store password: the key password is the same.
    copy = tmp_path / "copy.p12"
    _keytool(
        "-importkeystore", "-srckeystore", new, "-srcstorepass:env", PASSWORD_VARIABLE,
        "-destkeystore", copy, "-deststoretype", "PKCS12", "-deststorepass:env", PASSWORD_VARIABLE,
        "-srcalias", ALIAS, "-noprompt",
    )  # fmt: skip

    diff = diff_stores(keytool_store, new, old_password=PLANTED, new_password=PLANTED)
    (change,) = diff.key_entries
    assert (change.kind, change.certificate_changed, change.key_changed) == ("changed", True, False)
    assert not diff.removed  # the old store's CAs are all kept
    status, text, _ = run(
        ["diff", str(keytool_store), str(new), "--old-password-env", PASSWORD_VARIABLE,
         "--new-password-env", PASSWORD_VARIABLE],
        capsys,
    )  # fmt: skip
    assert status == 1
    assert ALIAS in text

    # Renewing the renewed store again with the same environment changes one key entry only.
    again = tmp_path / "again"
    request = tmp_path / "again.csr"
    _keytool("-certreq", "-alias", ALIAS, "-keystore", new, "-file", request)
    reply.write_bytes(_sign(pki, request, days=3 * 365 + 30))
    status, _, stderr = run(
        [
            "build", "--env", "int", "--identity-from", str(new), "--cert", str(reply),
            "--password-env", PASSWORD_VARIABLE, "--formats", "jks", "--out", str(again),
        ],
        capsys,
    )  # fmt: skip
    assert status == 0, stderr
    diff = diff_stores(new, again / "keystore.jks", old_password=PLANTED, new_password=PLANTED)
    (change,) = diff.key_entries
    assert (change.kind, change.certificate_changed, change.key_changed) == ("changed", True, False)
    assert not diff.added
    assert not diff.removed


@pytest.mark.slow
def test_a_reply_for_another_key_is_refused_and_nothing_written(
    pki: GeneratedPki,
    keytool_store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A certificate of another key is not the reply: exit 1 naming the rule, no file, no directory."""
    monkeypatch.setenv(PASSWORD_VARIABLE, PLANTED)
    other = tmp_path / "other.pem"
    other.write_bytes(pki.g2.client.cert_pem())  # the same CA, another key
    out = tmp_path / "new"
    before = keytool_store.read_bytes()
    status, stdout, stderr = run(
        [
            "build", "--env", "int", "--identity-from", str(keytool_store), "--cert", str(other),
            "--password-env", PASSWORD_VARIABLE, "--formats", "jks,p12", "--out", str(out),
        ],
        capsys,
    )  # fmt: skip
    assert status == 1
    assert "certifies another key" in stderr
    assert f"entry '{ALIAS}'" in stderr
    assert PLANTED not in stdout + stderr
    assert not out.exists()
    assert keytool_store.read_bytes() == before


def _old_store(pki: GeneratedPki, tmp_path: Path) -> Path:
    """A JKS we wrote for a G2-like client (its CAs trusted)."""
    from truststore_builder import KeyStoreBuilder  # noqa: PLC0415

    old = (
        KeyStoreBuilder()
        .add_trusted_certificates([pki.g2.root.certificate, pki.g2.intermediate.certificate])
        .with_identity(pki.g2.client.certificate, pki.g2.client.key, alias=ALIAS)
        .build()
    )
    path = tmp_path / "old.jks"
    path.write_bytes(old.to_jks(PLANTED))
    return path


def _renewal(pki: GeneratedPki, tmp_path: Path) -> Path:
    from tests.pki import make_certificate  # noqa: PLC0415

    renewed = make_certificate(
        pki.g2.client.certificate.subject,
        pki.g2.client.key,
        issuer=pki.g2.intermediate,
        ca=False,
        not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=3 * 365),
    )
    reply = tmp_path / "reply.pem"
    reply.write_bytes(renewed.cert_pem())
    return reply


def test_the_recipe_identity_from_store(
    pki: GeneratedPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """[identity] from_store + cert: the key store keeps key and alias; a foreign reply is refused."""
    from truststore_builder import ReplyKeyMismatchError  # noqa: PLC0415

    monkeypatch.setenv(PASSWORD_VARIABLE, PLANTED)
    monkeypatch.setenv("OLD_PASSWORD", PLANTED)
    old = _old_store(pki, tmp_path)
    reply = _renewal(pki, tmp_path)
    recipe = tmp_path / "renew.toml"
    recipe.write_text(
        f"""
[trust]
environments = ["int"]

[identity]
from_store = "old.jks"
from_store_password_env = "OLD_PASSWORD"
cert = "{reply.name}"

[[targets]]
format = "keystore-jks"
path = "out/mesh.keystore"
password_env = "{PASSWORD_VARIABLE}"
""",
        encoding="utf-8",
    )
    result = load_recipe(recipe).build()
    assert result.keystore is not None
    assert result.keystore.alias == ALIAS
    assert result.keystore.identity.certificate.serial_number != (
        pki.g2.client.certificate.serial_number
    )
    diff = diff_stores(
        old, tmp_path / "out/mesh.keystore", old_password=PLANTED, new_password=PLANTED
    )
    (change,) = diff.key_entries
    assert (change.certificate_changed, change.key_changed) == (True, False)

    reply.write_bytes(pki.foreign.client.cert_pem())
    (tmp_path / "out/mesh.keystore").unlink()
    with pytest.raises(
        ReplyKeyMismatchError, match=r"renew\.toml: identity: .*certifies another key"
    ):
        load_recipe(recipe).build()
    assert not (tmp_path / "out/mesh.keystore").exists()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('from_store = "old.jks"\ncert = "reply.pem"', "from_store_password_env: missing"),
        (
            (
                'from_store = "old.jks"\nfrom_store_password_env = "P"\nkey = "reply.pem"\n'
                'cert = "reply.pem"'
            ),
            "identity.key: give key or from_store, not both",
        ),
        (
            'cert = "reply.pem"\nkey = "reply.pem"\nfrom_store_password_env = "P"',
            "only an identity",
        ),
        ('from_store = "missing.jks"\nfrom_store_password_env = "P"', "no such key store"),
    ],
)
def test_recipe_from_store_keys_are_checked(tmp_path: Path, table: str, message: str) -> None:
    """from_store needs its password, excludes key, and must exist; the error names the key."""
    from truststore_builder import RecipeError  # noqa: PLC0415

    (tmp_path / "old.jks").write_bytes(b"not read")
    (tmp_path / "reply.pem").write_bytes(b"not read")
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        f'[trust]\nenvironments = ["int"]\n[identity]\n{table}\n'
        '[[targets]]\nformat = "pem"\npath = "out/t.pem"\n',
        encoding="utf-8",
    )
    with pytest.raises(RecipeError, match=message):
        load_recipe(recipe)


def test_identity_from_options_are_checked(
    pki: GeneratedPki,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--identity-from refuses --key, needs a password, and a wrong one changes nothing."""
    monkeypatch.setenv(PASSWORD_VARIABLE, PLANTED)
    monkeypatch.setenv("WRONG_PASSWORD", "not-the-password")
    old = _old_store(pki, tmp_path)
    reply = _renewal(pki, tmp_path)
    out = tmp_path / "new"
    base = ["build", "--env", "int", "--identity-from", str(old), "--cert", str(reply),
            "--out", str(out), "--formats", "jks"]  # fmt: skip
    status, _, stderr = run(
        [*base, "--key", str(reply), "--password-env", PASSWORD_VARIABLE], capsys
    )
    assert (status, "leave out --key" in stderr) == (2, True)
    status, _, stderr = run([*base, "--formats", "pem"], capsys)
    assert status != 0
    assert "--identity-from-password-env" in stderr
    status, _, stderr = run(
        [
            *base,
            "--password-env",
            PASSWORD_VARIABLE,
            "--identity-from-password-env",
            "WRONG_PASSWORD",
        ],
        capsys,
    )
    assert status == 2  # input that cannot be read
    assert f"{old}: the JKS integrity check failed: the password is wrong" in stderr
    assert not out.exists()
    # The control: the right password (the store password by default) builds it.
    status, stdout, stderr = run([*base, "--password-env", PASSWORD_VARIABLE], capsys)
    assert status == 0, stderr
    assert (out / "keystore.jks").exists()
    assert PLANTED not in stdout + stderr


def test_renewing_the_store_in_service_in_place(
    pki: GeneratedPki,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--identity-from the file being replaced: refused without --force, renewed with it, then unchanged."""
    monkeypatch.setenv(PASSWORD_VARIABLE, "Mesh2026")
    chain, key = pki.g2.write_client(tmp_path, "g2")
    cas = tmp_path / "cas.pem"
    cas.write_bytes(pki.g2.root.cert_pem() + pki.g2.intermediate.cert_pem())
    home = tmp_path / "MESH-APP-HOME"
    store = home / "KEYSTORE" / "mesh.keystore"
    base = ["build", "--preset", "mesh-java", "--env", "int", "--add", str(cas),
            "--password-env", PASSWORD_VARIABLE, "--out", str(home)]  # fmt: skip
    assert run([*base, "--cert", str(chain), "--key", str(key)], capsys)[0] == 0
    before = store.read_bytes()
    reply = _renewal(pki, tmp_path)
    renew = [*base, "--identity-from", str(store), "--cert", str(reply)]
    status, _, stderr = run(renew, capsys)
    assert status == 2
    assert "already exists and is not what this build makes" in stderr
    assert store.read_bytes() == before
    status, stdout, stderr = run([*renew, "--force"], capsys)
    assert status == 0, stderr
    assert stdout.startswith(f"wrote {store}")
    from truststore_builder import KeyStoreBuilder  # noqa: PLC0415

    renewed = KeyStoreBuilder().with_identity_from_store(store, password="Mesh2026").build()
    assert renewed.identity.certificate == x509.load_pem_x509_certificate(reply.read_bytes())
    status, stdout, _ = run(renew, capsys)
    assert status == 0
    assert stdout.startswith(f"unchanged {store}")
