"""Certificate signing requests: CN-only subjects, NHS naming helpers, and openssl's reading."""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    pkcs12,
)
from cryptography.x509.oid import NameOID

from tests.commands import PASSWORD_VARIABLE, keytool, openssl, run_cli
from tests.commands import run as run_program
from tests.pki import catalogue_for
from truststore_builder import KeyStoreBuilder
from truststore_builder._csr import (
    BARS_NAMINGS,
    bars_common_name,
    check_common_name,
    common_name_of,
    generate_signing_request,
    mesh_client_common_name,
    signing_request_for_key,
)

if TYPE_CHECKING:
    from pathlib import Path

    from tests.pki import GeneratedPki


def test_mesh_name_follows_the_mesh_api_convention() -> None:
    """MESH client CNs are <mailbox>.<ods>.api.mesh-client.nhs.uk, lower-case like NHS issues them."""
    assert (
        mesh_client_common_name("N1G3BOT001", "N1G3B") == "n1g3bot001.n1g3b.api.mesh-client.nhs.uk"
    )


@pytest.mark.parametrize(("mailbox", "ods"), [("X26 OT1", "X26"), ("X26OT001", "X-6"), ("", "X26")])
def test_mesh_name_refuses_malformed_parts(mailbox: str, ods: str) -> None:
    """Spaces, punctuation or empty parts in a mailbox ID or ODS code are refused."""
    with pytest.raises(ValueError, match="letters and digits"):
        mesh_client_common_name(mailbox, ods)


def test_bars_names_in_force_and_the_older_form() -> None:
    """BaRS receivers: the PROD and INT names in force, supplier- or provider-hosted, and the older one."""
    assert bars_common_name("RK5", "nervecentre") == "BaRS-PROD-RK5.nervecentre.thirdparty.nhs.uk"
    assert (
        bars_common_name("RX1", "NorthTrust", naming="provider")
        == "BaRS-PROD-RX1.NorthTrust.nhs.uk"
    )
    assert (
        bars_common_name("RX1", "Acme", environment="int") == "BaRS-INT-RX1.Acme.thirdparty.nhs.uk"
    )
    assert bars_common_name("RX1", "NorthTrust", naming="older") == "BaRS-RX1.NorthTrust.nhs.uk"
    # The live receiver the NHS England guide names has this form (DNS names ignore case).
    assert (
        bars_common_name("rk5", "nervecentre").casefold()
        == "bars-prod-rk5.nervecentre.thirdparty.nhs.uk"
    )
    assert {form for _env, form in BARS_NAMINGS} == {"supplier", "provider", "older"}
    with pytest.raises(ValueError, match="one DNS label"):
        bars_common_name("RX1", "North Trust")
    with pytest.raises(ValueError, match="not dep supplier"):
        bars_common_name("RX1", "Acme", environment="dep")
    with pytest.raises(ValueError, match="not int provider"):
        bars_common_name("RX1", "Acme", environment="int", naming="provider")
    with pytest.raises(ValueError, match="not prod hosted"):
        bars_common_name("RX1", "Acme", naming="hosted")


@pytest.mark.parametrize(
    ("options", "common_name"),
    [
        ([], "BaRS-PROD-RK5.Nervecentre.thirdparty.nhs.uk"),
        (["--bars-naming", "provider"], "BaRS-PROD-RK5.Nervecentre.nhs.uk"),
        (["--bars-naming", "older"], "BaRS-RK5.Nervecentre.nhs.uk"),
        (["--env", "int"], "BaRS-INT-RK5.Nervecentre.thirdparty.nhs.uk"),
    ],
)
def test_csr_bars_options(
    options: list[str], common_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`csr --bars` writes the CN each naming gives, CN only, as openssl reads it."""
    csr = tmp_path / "bars.csr"
    argv = ["csr", "--bars", "RK5.Nervecentre", *options, "--key-out", str(tmp_path / "k.pem")]
    status, stdout, _ = run_cli([*argv, "--csr-out", str(csr)], capsys)
    assert status == 0, stdout
    subject = openssl("req", "-in", csr, "-noout", "-subject", "-nameopt", "RFC2253")
    assert subject.decode().strip() == f"subject=CN={common_name}"


def test_csr_bars_naming_is_refused_where_it_is_not_defined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """INT has no provider-hosted form, and --bars-naming needs --bars: usage errors, no files."""
    out = ["--key-out", str(tmp_path / "k.pem"), "--csr-out", str(tmp_path / "r.csr")]
    status, _, stderr = run_cli(
        ["csr", "--bars", "RK5.X", "--env", "int", "--bars-naming", "provider", *out], capsys
    )
    assert status == 2
    assert "not int provider" in stderr
    status, _, stderr = run_cli(
        ["csr", "--cn", "a.b.nhs.uk", "--bars-naming", "older", *out], capsys
    )
    assert status == 2
    assert "--bars-naming applies only to --bars" in stderr
    assert list(tmp_path.iterdir()) == []


def test_common_name_must_be_an_fqdn_within_64_characters() -> None:
    """A bare host name, an e-mail address or a 65-character name cannot be a certificate CN."""
    for bad in ("localhost", "me@example.nhs.uk", "a" * 60 + ".nhs.uk"):
        with pytest.raises(ValueError, match="CN"):
            check_common_name(bad)


def test_signing_request_subject_is_the_cn_alone(tmp_path: Path) -> None:
    """Openssl reads the CSR: subject CN only, no extensions, RSA-2048, signature valid."""
    request = generate_signing_request(mesh_client_common_name("X26OT001", "X26"))
    path = tmp_path / "client.csr"
    path.write_bytes(request.csr_pem())
    result = subprocess.run(
        ["openssl", "req", "-in", str(path), "-noout", "-subject", "-verify", "-text"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "subject=CN = x26ot001.x26.api.mesh-client.nhs.uk" in result.stdout
    assert "Public-Key: (2048 bit)" in result.stdout
    assert "X509v3" not in result.stdout  # openssl prints an empty "Requested Extensions:"
    assert "verify OK" in result.stdout + result.stderr
    assert isinstance(request.key, rsa.RSAPrivateKey)


def test_signing_request_repr_never_shows_the_key() -> None:
    """The repr names the CN and nothing of the key."""
    request = generate_signing_request("client.example.nhs.uk")
    assert repr(request) == "SigningRequest(common_name='client.example.nhs.uk')"
    assert "PRIVATE" not in repr(request)


def test_small_keys_are_refused() -> None:
    """Keys below 2048 bits are refused before one is generated."""
    with pytest.raises(ValueError, match="2048"):
        generate_signing_request("client.example.nhs.uk", key_size=1024)


PASSWORD_VAR = "TSB_TEST_CSR_PASSWORD"
KEY_PASSWORD_VAR = "TSB_TEST_CSR_KEY_PASSWORD"


def _csr_public_key(path: Path) -> bytes:
    """The CSR's public key as openssl reads it, after openssl has verified its signature."""
    done = run_program("openssl", "req", "-in", path, "-noout", "-verify", "-pubkey")
    assert done.returncode == 0, done.stderr
    assert "verify OK" in done.stdout + done.stderr
    return done.stdout.split("-----BEGIN PUBLIC KEY-----")[1].encode()


def _key_public_key(path: Path) -> bytes:
    """The public half of an unencrypted key file, as openssl reads it."""
    done = run_program("openssl", "pkey", "-in", path, "-pubout")
    assert done.returncode == 0, done.stderr
    return done.stdout.split("-----BEGIN PUBLIC KEY-----")[1].encode()


def _assert_certifies(csr: Path, key_pem: bytes, other_key_pem: bytes, tmp_path: Path) -> None:
    """Openssl finds ``key_pem``'s public key in the CSR, and not (the control) the other's."""
    reference, other = tmp_path / "reference-key.pem", tmp_path / "other-key.pem"
    reference.write_bytes(key_pem)
    other.write_bytes(other_key_pem)
    assert _csr_public_key(csr) == _key_public_key(reference)
    assert _csr_public_key(csr) != _key_public_key(other)
    reference.unlink()
    other.unlink()


def _openssl_with(password: str, *arguments: str | Path) -> subprocess.CompletedProcess[str]:
    """Run openssl with ``password`` in both password variables (for ``-passin env:``)."""
    env = {**os.environ, KEY_PASSWORD_VAR: password, PASSWORD_VAR: password}
    return subprocess.run(
        ["openssl", *(str(a) for a in arguments)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize("form", ["pem", "der", "pem-encrypted"])
def test_csr_renews_with_an_existing_key_file(
    form: str,
    pki: GeneratedPki,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`csr --key FILE` signs with that key: openssl verifies the CSR and finds the file's key."""
    key = pki.g2.client.key
    path = tmp_path / f"key.{form}"
    options = []
    if form == "der":
        path.write_bytes(key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption()))
    elif form == "pem":
        path.write_bytes(
            key.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption())
        )
    else:
        encryption = BestAvailableEncryption(b"key password")
        path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption))
        monkeypatch.setenv(KEY_PASSWORD_VAR, "key password")
        options = ["--key-password-env", KEY_PASSWORD_VAR]
    before = path.read_bytes()
    csr = tmp_path / "renew.csr"
    argv = ["csr", "--key", str(path), *options, "--mesh", "X26OT001.X26", "--csr-out", str(csr)]
    status, stdout, stderr = run_cli(argv, capsys)
    assert status == 0, stderr
    assert "unchanged" in stdout
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, csr.name])
    _assert_certifies(csr, pki.g2.client.key_pem(), pki.g1.client.key_pem(), tmp_path)


def test_csr_key_file_with_a_wrong_password_writes_nothing(
    pki: GeneratedPki,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A wrong --key password, or none, is an error naming the key file; no CSR is written."""
    path = tmp_path / "key.pem"
    encryption = BestAvailableEncryption(b"right")
    path.write_bytes(pki.g2.client.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, encryption))
    monkeypatch.setenv(KEY_PASSWORD_VAR, "Planted-Wrong-Password-7")
    csr = tmp_path / "r.csr"
    base = ["csr", "--key", str(path), "--cn", "a.b.nhs.uk", "--csr-out", str(csr)]
    status, _, stderr = run_cli([*base, "--key-password-env", KEY_PASSWORD_VAR], capsys)
    assert status == 2
    assert str(path) in stderr
    assert "Planted-Wrong-Password-7" not in stderr
    status, _, stderr = run_cli(base, capsys)
    assert status == 2
    assert not csr.exists()


@pytest.fixture
def p12_store(pki: GeneratedPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PKCS#12 key store cryptography wrote (not our writer): the G2 client, alias Mesh.

    Its password, "store password", is in the environment variable PASSWORD_VAR.
    """
    client = pki.g2.client
    data = pkcs12.serialize_key_and_certificates(
        b"Mesh",
        client.key,
        client.certificate,
        [pki.g2.intermediate.certificate],
        BestAvailableEncryption(b"store password"),
    )
    path = tmp_path / "keystore.p12"
    path.write_bytes(data)
    monkeypatch.setenv(PASSWORD_VAR, "store password")
    return path


def _jks_of_two(
    pki: GeneratedPki, path: Path, key_passwords: tuple[str, str] = ("key password", "key password")
) -> Path:
    """A JKS written by pyjks with two key entries, each key under its own password."""
    import jks  # noqa: PLC0415

    entries = []
    for (alias, hierarchy), key_password in zip(
        (("G1-Client", pki.g1), ("G2-Client", pki.g2)), key_passwords, strict=True
    ):
        key = hierarchy.client.key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
        certificates = [c.public_bytes(Encoding.DER) for c in hierarchy.client_chain]
        entry = jks.PrivateKeyEntry.new(alias.lower(), certificates, key, "pkcs8")
        entry.encrypt(key_password)
        entries.append(entry)
    jks.KeyStore.new("jks", entries).save(str(path), "store password")
    return path


def test_csr_from_a_jks_of_two_key_entries_needs_the_alias_and_the_key_password(
    pki: GeneratedPki,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two key entries: the alias is needed (any case), and the key password where it differs."""
    store = _jks_of_two(pki, tmp_path / "mesh.keystore")
    monkeypatch.setenv(PASSWORD_VAR, "store password")
    monkeypatch.setenv(KEY_PASSWORD_VAR, "key password")
    csr = tmp_path / "r.csr"
    base = [
        "csr",
        "--from-store",
        str(store),
        "--password-env",
        PASSWORD_VAR,
        "--csr-out",
        str(csr),
    ]
    keyed = [*base, "--key-password-env", KEY_PASSWORD_VAR]
    status, _, stderr = run_cli(keyed, capsys)
    assert status == 2
    assert "2 key entries ('g1-client', 'g2-client'); name one with an alias" in stderr
    status, _, stderr = run_cli([*base, "--alias", "G2-CLIENT"], capsys)
    assert status == 2  # the key is under another password than the store
    assert not csr.exists()
    status, stdout, stderr = run_cli([*keyed, "--alias", "G2-CLIENT"], capsys)
    assert status == 0, stderr
    assert "CN=client.test-g2.test" in stdout
    _assert_certifies(csr, pki.g2.client.key_pem(), pki.g1.client.key_pem(), tmp_path)


def test_csr_from_a_jks_whose_key_entries_have_different_passwords(
    pki: GeneratedPki,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--alias reads only that entry: another entry's key password does not stand in the way.

    Without --alias the refusal names the entries and asks for one; with the alias and its key
    password the CSR is made (before the fix, the other entry's password failed both).
    """
    store = _jks_of_two(pki, tmp_path / "mesh.keystore", ("g1 key password", "g2 key password"))
    monkeypatch.setenv(PASSWORD_VAR, "store password")
    monkeypatch.setenv(KEY_PASSWORD_VAR, "g2 key password")
    csr = tmp_path / "r.csr"
    keyed = [
        "csr", "--from-store", str(store), "--password-env", PASSWORD_VAR,
        "--key-password-env", KEY_PASSWORD_VAR, "--csr-out", str(csr),
    ]  # fmt: skip
    status, _, stderr = run_cli(keyed, capsys)
    assert status == 2
    assert "'g1-client'" in stderr
    assert "2 key entries ('g1-client', 'g2-client')" in stderr
    assert "alias" in stderr
    assert not csr.exists()
    status, _, stderr = run_cli([*keyed, "--alias", "g3-client"], capsys)
    assert status == 2
    assert (
        "no key entry with the alias 'g3-client'; the store has 'g1-client', 'g2-client'" in stderr
    )
    status, stdout, stderr = run_cli([*keyed, "--alias", "G2-Client"], capsys)
    assert status == 0, stderr
    assert "CN=client.test-g2.test" in stdout
    _assert_certifies(csr, pki.g2.client.key_pem(), pki.g1.client.key_pem(), tmp_path)
    renewed = (
        KeyStoreBuilder()
        .with_catalogue(catalogue_for(pki))
        .add_nhs("prod")
        .with_identity_from_store(
            store, password="store password", alias="g2-client", key_password="g2 key password"
        )
        .build()
    )
    assert renewed.alias == "g2-client"


def test_csr_from_a_pkcs12_store_reuses_its_key_and_cn(
    pki: GeneratedPki, p12_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`csr --from-store` with no name asks for the current certificate's CN, with the store's key."""
    store = p12_store
    csr = tmp_path / "renew.csr"
    argv = ["csr", "--from-store", str(store), "--password-env", PASSWORD_VAR, "--alias", "MESH"]
    status, stdout, stderr = run_cli([*argv, "--csr-out", str(csr)], capsys)
    assert status == 0, stderr
    current_cn = common_name_of(pki.g2.client.certificate)
    assert f"CN={current_cn}" in stdout
    subject = openssl("req", "-in", csr, "-noout", "-subject", "-nameopt", "RFC2253")
    assert subject.decode().strip() == f"subject=CN={current_cn}"  # CN only: no OU, no O
    # The store's key, as openssl reads it out of the store, is the CSR's key.
    done = _openssl_with(
        "store password",
        "pkcs12",
        "-in",
        store,
        "-nocerts",
        "-nodes",
        "-passin",
        f"env:{PASSWORD_VAR}",
    )
    assert done.returncode == 0, done.stderr
    store_key = tmp_path / "store-key.pem"
    store_key.write_text(done.stdout)
    assert _csr_public_key(csr) == _key_public_key(store_key)
    # The control: a new key (a plain csr) does not carry the store's public key.
    fresh = tmp_path / "fresh.csr"
    assert (
        run_cli(
            [
                "csr",
                "--cn",
                str(current_cn),
                "--key-out",
                str(tmp_path / "k.pem"),
                "--csr-out",
                str(fresh),
            ],
            capsys,
        )[0]
        == 0
    )
    assert _csr_public_key(fresh) != _key_public_key(store_key)
    # A CN given on the command line wins over the current one.
    named = tmp_path / "named.csr"
    status, stdout, _ = run_cli(
        [*argv, "--cn", "other.example.nhs.uk", "--csr-out", str(named)], capsys
    )
    assert status == 0
    assert "CN=other.example.nhs.uk" in stdout


def test_csr_from_store_refusals(
    p12_store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Unknown alias, wrong password, no password, misplaced options: errors, nothing written."""
    store = p12_store
    csr = tmp_path / "r.csr"
    base = ["csr", "--from-store", str(store), "--csr-out", str(csr)]
    status, _, stderr = run_cli([*base, "--password-env", PASSWORD_VAR, "--alias", "nope"], capsys)
    assert status == 2
    assert "no key entry with the alias 'nope'; the store has 'Mesh'" in stderr
    status, _, stderr = run_cli(base, capsys)
    assert status == 2
    assert "--from-store needs the store's password" in stderr
    monkeypatch.setenv(PASSWORD_VAR, "not the password")
    status, _, stderr = run_cli([*base, "--password-env", PASSWORD_VAR], capsys)
    assert status == 2
    assert "not the password" not in stderr
    status, _, stderr = run_cli(
        [*base, "--password-env", PASSWORD_VAR, "--key-size", "4096"], capsys
    )
    assert status == 2
    assert "--key-size (only with --key-out" in stderr
    status, _, stderr = run_cli(
        [
            "csr",
            "--alias",
            "a",
            "--cn",
            "a.b.nhs.uk",
            "--key-out",
            str(tmp_path / "k"),
            "--csr-out",
            str(csr),
        ],
        capsys,
    )
    assert status == 2
    assert "--alias (only with --from-store)" in stderr
    status, _, stderr = run_cli(["csr", "--key", str(store), "--csr-out", str(csr)], capsys)
    assert status == 2
    assert "give the CN to ask for" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keystore.p12"]


def test_signing_request_for_a_weak_or_foreign_key_is_refused() -> None:
    """A reused key below 2048 bits is refused; so is something that is not a private key."""
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    with pytest.raises(ValueError, match="this key has 1024"):
        signing_request_for_key("a.b.nhs.uk", weak)
    with pytest.raises(TypeError, match="RSA or EC private key"):
        signing_request_for_key("a.b.nhs.uk", weak.public_key())  # type: ignore[arg-type]


def test_common_name_of_a_certificate_without_one_is_refused(pki: GeneratedPki) -> None:
    """A certificate with no CN gives no default name: the caller must give one."""
    from tests.pki import make_certificate, rsa_key  # noqa: PLC0415

    nameless = make_certificate(
        x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nhs")]),
        rsa_key(),
        issuer=pki.g2.intermediate,
        ca=False,
    )
    with pytest.raises(ValueError, match="0 CNs, not one"):
        common_name_of(nameless.certificate)
    assert common_name_of(pki.g2.client.certificate) == "client.test-g2.test"


@pytest.mark.slow
def test_csr_from_a_keytool_store_asks_for_the_key_keytool_certreq_asks_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A JKS keytool made: our CSR and keytool -certreq's carry one public key, ours CN only."""
    store = tmp_path / "mesh.keystore"
    made = keytool(
        "-genkeypair", "-keystore", store, "-storetype", "JKS", "-alias", "Mesh-Client",
        "-keyalg", "RSA", "-keysize", "2048", "-storepass:env", PASSWORD_VARIABLE,
        "-keypass:env", PASSWORD_VARIABLE,
        "-dname", "CN=x26ot001.x26.api.mesh-client.nhs.uk, OU=Devices, O=nhs",
        password="store password",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    theirs = tmp_path / "keytool.csr"
    asked = keytool(
        "-certreq", "-keystore", store, "-alias", "mesh-client", "-file", theirs,
        "-storepass:env", PASSWORD_VARIABLE, password="store password",
    )  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    monkeypatch.setenv(PASSWORD_VAR, "store password")
    ours = tmp_path / "ours.csr"
    argv = ["csr", "--from-store", str(store), "--password-env", PASSWORD_VAR]
    status, _, stderr = run_cli([*argv, "--csr-out", str(ours)], capsys)
    assert status == 0, stderr
    assert _csr_public_key(ours) == _csr_public_key(theirs)
    subject = openssl("req", "-in", ours, "-noout", "-subject", "-nameopt", "RFC2253")
    assert subject.decode().strip() == "subject=CN=x26ot001.x26.api.mesh-client.nhs.uk"
    # The control: keytool's request keeps OU and O, which NHS England asks to leave blank.
    theirs_subject = openssl("req", "-in", theirs, "-noout", "-subject", "-nameopt", "RFC2253")
    assert "OU=Devices" in theirs_subject.decode()
