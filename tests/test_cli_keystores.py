"""The command line's client side: build --cert/--key, and csr."""

from __future__ import annotations

import os
import stat
import subprocess
from typing import TYPE_CHECKING

import pytest
from cryptography import x509

from tests.commands import keytool_list
from tests.commands import run_cli as run
from tests.test_cli import PASSWORD_VAR, PLANTED, trusted_aliases
from truststore_builder._formats.keys import serialize_private_key_pem

if TYPE_CHECKING:
    from pathlib import Path

    from tests.pki import GeneratedPki


@pytest.fixture
def client_files(pki: GeneratedPki, tmp_path: Path) -> dict[str, Path]:
    """The G2-like client's certificate and key, a file of its CAs, and a mismatched key."""
    chain, key = pki.g2.write_client(tmp_path, "g2")
    _, other_key = pki.g1.write_client(tmp_path, "g1")
    cas = tmp_path / "test-cas.pem"
    cas.write_bytes(pki.g2.root.cert_pem() + pki.g2.intermediate.cert_pem())
    return {"cert": chain, "key": key, "cas": cas, "other_key": other_key}


def _build(files: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return [
        "build",
        "--env",
        "int",
        "--add",
        str(files["cas"]),
        "--cert",
        str(files["cert"]),
        "--key",
        str(files["key"]),
        "--password-env",
        PASSWORD_VAR,
        "--out",
        str(out),
        *extra,
    ]


@pytest.mark.slow
def test_build_with_identity_writes_every_client_file(
    client_files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Key stores, chain and key files appear; keytool sees one key entry plus the trusted CAs."""
    monkeypatch.setenv(PASSWORD_VAR, PLANTED)
    out = tmp_path / "stores"
    old = os.umask(0)
    try:
        status, stdout, stderr = run(_build(client_files, out), capsys)
    finally:
        os.umask(old)
    assert status == 0, stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "client-chain.pem",
        "client-key.pem",
        "keystore.jks",
        "keystore.p12",
        "truststore.jks",
        "truststore.p12",
        "truststore.pem",
    ]
    for private in ("client-key.pem", "keystore.jks", "keystore.p12"):
        assert stat.S_IMODE((out / private).stat().st_mode) == 0o600, private
    for store_type, name in (("JKS", "keystore.jks"), ("PKCS12", "keystore.p12")):
        kinds = trusted_aliases(keytool_list(out / name, store_type, PLANTED))
        assert kinds.pop("client-test-g2-test") == "PrivateKeyEntry"
        assert len(kinds) == 6  # the four NHS INT CAs and the two added test CAs
        assert set(kinds.values()) == {"trustedCertEntry"}
    chain = x509.load_pem_x509_certificates((out / "client-chain.pem").read_bytes())
    assert [c.subject.rfc4514_string() for c in chain] == [
        "CN=client.test-g2.test,OU=Devices,O=nhs",
        "CN=Test G2 Authentication G2,OU=CA,O=nhs",
    ]
    assert PLANTED not in stdout + stderr
    assert "client-test-g2-test" in stdout


def test_mismatched_key_is_refused_and_nothing_is_written(
    client_files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The wrong key exits 1 with one line naming the rule and the file; no directory appears."""
    monkeypatch.setenv(PASSWORD_VAR, PLANTED)
    files = {**client_files, "key": client_files["other_key"]}
    out = tmp_path / "stores"
    status, _, stderr = run(_build(files, out), capsys)
    assert status == 1
    assert len(stderr.splitlines()) == 1
    assert "does not belong to the certificate" in stderr
    assert str(client_files["cert"]) in stderr
    assert not out.exists()


def test_an_encrypted_key_without_its_password_names_the_option_once(
    pki: GeneratedPki,
    client_files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Exit 2, one line: the key is encrypted, and --key-password-env/-file give its password.

    The library's problem and the command line's remedy read as one sentence (it said "give
    its password; give it with --key-password-env ..."); the control gives the password.
    """
    monkeypatch.setenv(PASSWORD_VAR, PLANTED)
    encrypted = tmp_path / "g2-key-encrypted.pem"
    encrypted.write_bytes(serialize_private_key_pem(pki.g2.client.key, PLANTED.encode()))
    files = {**client_files, "key": encrypted}
    out = tmp_path / "stores"
    status, _, stderr = run(_build(files, out), capsys)
    assert status == 2
    assert stderr == (
        f"truststore-builder: error: {encrypted}: the private key is encrypted and needs its "
        "password; none was given; give it with --key-password-env VAR or "
        "--key-password-file FILE\n"
    )
    assert not out.exists()
    status, _, stderr = run([*_build(files, out), "--key-password-env", PASSWORD_VAR], capsys)
    assert status == 0, stderr


def test_client_without_chain_to_the_environment_is_refused(
    client_files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without --add for its CAs the test client has no issuer in INT: exit 1 naming the issuer."""
    monkeypatch.setenv(PASSWORD_VAR, PLANTED)
    argv = _build(client_files, tmp_path / "stores")
    del argv[3:5]  # drop --add
    status, _, stderr = run(argv, capsys)
    assert status == 1
    assert "CN=Test G2 Authentication G2" in stderr


def test_identity_options_are_checked(
    client_files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--cert without --key, and a key store without a password, are usage errors (status 2)."""
    monkeypatch.setenv(PASSWORD_VAR, PLANTED)
    argv = _build(client_files, tmp_path / "stores", "--formats", "pem,p12")
    without_key = [a for a in argv if a not in {"--key", str(client_files["key"])}]
    status, _, stderr = run(without_key, capsys)
    assert (status, "--cert and --key go together" in stderr) == (2, True)
    without_password = [a for a in argv if a not in {"--password-env", PASSWORD_VAR}]
    status, _, stderr = run(without_password, capsys)
    assert (status, "needs a password" in stderr) == (2, True)


def test_encrypted_client_key_pem(
    client_files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--encrypt-key-pem writes an encrypted PKCS#8 key that openssl opens with the store password."""
    monkeypatch.setenv(PASSWORD_VAR, PLANTED)
    out = tmp_path / "stores"
    status, _, stderr = run(
        _build(client_files, out, "--formats", "pem", "--encrypt-key-pem"), capsys
    )
    assert status == 0, stderr
    key_file = out / "client-key.pem"
    assert key_file.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    result = subprocess.run(
        ["openssl", "pkey", "-in", str(key_file), "-passin", f"env:{PASSWORD_VAR}", "-noout"],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_csr_for_a_mesh_mailbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Csr --mesh writes a 0600 key and a CN-only request that openssl verifies."""
    key, csr = tmp_path / "client.key.pem", tmp_path / "client.csr"
    argv = ["csr", "--mesh", "X26OT001.X26", "--key-out", str(key), "--csr-out", str(csr)]
    status, stdout, _ = run(argv, capsys)
    assert status == 0
    assert "x26ot001.x26.api.mesh-client.nhs.uk" in stdout
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    subject = subprocess.run(
        ["openssl", "req", "-in", str(csr), "-noout", "-subject", "-verify"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert subject.strip() == "subject=CN = x26ot001.x26.api.mesh-client.nhs.uk"
    status, _, stderr = run(argv, capsys)
    assert (status, "already exists" in stderr) == (2, True)


def test_csr_for_bars_and_bad_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Csr --bars builds the INT BaRS name; a name that is no FQDN is a usage error, nothing written."""
    key, csr = tmp_path / "k.pem", tmp_path / "r.csr"
    out = ["--key-out", str(key), "--csr-out", str(csr)]
    status, stdout, _ = run(["csr", "--bars", "RX1.Acme", "--env", "int", *out], capsys)
    assert status == 0
    assert "BaRS-INT-RX1.Acme.thirdparty.nhs.uk" in stdout
    key.unlink()
    csr.unlink()
    status, _, stderr = run(["csr", "--cn", "not a name", *out], capsys)
    assert status == 2
    assert "fully-qualified" in stderr
    assert not key.exists()


def test_unknown_p12_profile_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown --p12-profile is one usage line listing the names, not an internal error."""
    status, _, stderr = run(
        ["build", "--env", "int", "--out", "x", "--p12-profile", "java7"], capsys
    )
    assert status == 2
    assert "unknown PKCS#12 profile 'java7'" in stderr
    assert "windows2016" in stderr
    assert "internal error" not in stderr


@pytest.mark.slow
def test_trust_options_apply_to_the_key_stores_too(
    client_files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--certifi with --cert/--key puts the public roots in the key store's trusted entries too."""
    monkeypatch.setenv(PASSWORD_VAR, PLANTED)
    out = tmp_path / "stores"
    status, _, stderr = run(
        _build(client_files, out, "--certifi", "--drop-expired", "--formats", "jks"), capsys
    )
    assert status == 0, stderr
    kinds = trusted_aliases(keytool_list(out / "keystore.jks", "JKS", PLANTED))
    assert len(kinds) > 100
    assert sum(kind == "PrivateKeyEntry" for kind in kinds.values()) == 1


@pytest.mark.parametrize("name", [["--cn", "client.test.nhs.uk"], ["--mesh", "X26OT001.X26"]])
@pytest.mark.parametrize("env", ["int", "prod"])
def test_csr_env_without_bars_is_refused(
    name: list[str], env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Csr --env with --cn or --mesh (which it cannot change) is one usage line, nothing written."""
    key, csr = tmp_path / "k.pem", tmp_path / "r.csr"
    out = ["--key-out", str(key), "--csr-out", str(csr)]
    status, stdout, stderr = run(["csr", *name, "--env", env, *out], capsys)
    assert (status, stdout) == (2, "")
    assert stderr == (
        "truststore-builder: error: --env applies only to --bars: the CN "
        f"{name[0]} gives is the same in every environment\n"
    )
    assert list(tmp_path.iterdir()) == []
    # The control: the same name without --env is written; --bars without --env is prod's name
    # in force (supplier-hosted).
    status, _, stderr = run(["csr", *name, *out], capsys)
    assert status == 0, stderr
    assert key.exists()
    status, stdout, stderr = run(["csr", "--bars", "RX1.Acme", *out, "--force"], capsys)
    assert status == 0, stderr
    assert "(CN=BaRS-PROD-RX1.Acme.thirdparty.nhs.uk)" in stdout
