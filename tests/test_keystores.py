"""KeyStoreBuilder: every identity rule has a test that trips it, and the built store is right."""

from __future__ import annotations

import datetime as dt
import warnings
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.commands import PASSWORD_VARIABLE, keytool, openssl_with_password
from tests.pki import catalogue_for, make_certificate, rsa_key
from truststore_builder import (
    CertificateNotValidError,
    CertificateUsageError,
    ChainError,
    G1IdentityWarning,
    GenerationError,
    IdentityEnvironmentError,
    KeyMismatchError,
    KeyStoreBuilder,
    MissingPasswordError,
    NotACertificateAuthorityError,
    WeakKeyError,
    WrongPasswordError,
)
from truststore_builder._cli.errors import report_error
from truststore_builder._model import spki_der
from truststore_builder._recipe_build import _in_context

if TYPE_CHECKING:
    from pathlib import Path

    from tests.pki import GeneratedPki, Hierarchy
    from truststore_builder import KeyStore

PASSWORD = "Store-pass-7731"
KEY_PASSWORD = "Key-file-pass-4410"


def _trusting_all(pki: GeneratedPki) -> KeyStoreBuilder:
    """A builder trusting the G1-like and G2-like CAs, outside any NHS environment."""
    return KeyStoreBuilder().add_trusted_certificates(
        [
            pki.g1.root.certificate,
            pki.g1.intermediate.certificate,
            pki.g2.root.certificate,
            pki.g2.intermediate.certificate,
        ]
    )


def _nhs_like(pki: GeneratedPki) -> KeyStoreBuilder:
    """A builder for 'prod' where a test catalogue recognises the generated CAs as NHS ones."""
    return KeyStoreBuilder().with_catalogue(catalogue_for(pki)).add_nhs("prod")


def _files(hierarchy: Hierarchy, tmp_path: Path, *, encrypted: bool = False) -> tuple[Path, Path]:
    """The client certificate (leaf only) and its key as PEM files."""
    cert = tmp_path / "client.pem"
    cert.write_bytes(hierarchy.client.cert_pem())
    key = tmp_path / "client-key.pem"
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(KEY_PASSWORD.encode())
        if encrypted
        else serialization.NoEncryption()
    )
    key.write_bytes(
        hierarchy.client.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, encryption
        )
    )
    return cert, key


def test_g2_identity_builds_with_its_full_chain(pki: GeneratedPki, tmp_path: Path) -> None:
    """A G2 client with a PKCS#1 key file gets its chain leaf -> intermediate -> root from the trust."""
    cert, key = _files(pki.g2, tmp_path)
    keystore = _trusting_all(pki).with_identity(cert, key).build()
    assert keystore.chain == (
        pki.g2.client.certificate,
        pki.g2.intermediate.certificate,
        pki.g2.root.certificate,
    )
    assert keystore.alias == "client-test-g2-test"
    assert len(keystore.trust_store) == 4
    assert keystore.report.ok


def test_encrypted_key_file_needs_its_password(pki: GeneratedPki, tmp_path: Path) -> None:
    """An encrypted key file loads with its password; without it or with a wrong one, typed errors."""
    cert, key = _files(pki.g2, tmp_path, encrypted=True)
    assert _trusting_all(pki).with_identity(cert, key, key_password=KEY_PASSWORD).build()
    with pytest.raises(MissingPasswordError, match="encrypted"):
        _trusting_all(pki).with_identity(cert, key)
    with pytest.raises(WrongPasswordError) as caught:
        _trusting_all(pki).with_identity(cert, key, key_password="not-it")
    assert KEY_PASSWORD not in str(caught.value)
    assert "not-it" not in str(caught.value)


def test_leaf_is_found_in_a_combined_chain_file(pki: GeneratedPki, tmp_path: Path) -> None:
    """A file holding intermediate then leaf: the leaf is the certificate the key belongs to."""
    combined = tmp_path / "combined.pem"
    combined.write_bytes(pki.g2.intermediate.cert_pem() + pki.g2.client.cert_pem())
    _, key = _files(pki.g2, tmp_path)
    keystore = KeyStoreBuilder().add_trusted_certificates([pki.g2.root.certificate])
    built = keystore.with_identity(combined, key).build()
    assert built.identity.certificate == pki.g2.client.certificate
    assert len(built.chain) == 3


def test_key_of_another_certificate_is_refused(pki: GeneratedPki, tmp_path: Path) -> None:
    """The G1 client's key with the G2 certificate: KeyMismatchError naming the certificate file."""
    cert, _ = _files(pki.g2, tmp_path)
    _, other_key = _files(pki.g1, tmp_path / "..")
    with pytest.raises(KeyMismatchError) as caught:
        _trusting_all(pki).with_identity(cert, other_key).build()
    assert str(cert) in str(caught.value)
    assert caught.value.rule == "key-match"


def test_weak_rsa_key_is_refused(pki: GeneratedPki) -> None:
    """An RSA-1024 client certificate is refused before anything is written."""
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the point
    issued = make_certificate(
        pki.g2.client.certificate.subject, weak, issuer=pki.g2.intermediate, ca=False
    )
    with pytest.raises(WeakKeyError, match="1024 bits"):
        _trusting_all(pki).with_identity(issued.certificate, issued.key).build()


def test_expired_certificate_is_refused_and_a_validation_time_can_be_given(
    pki: GeneratedPki,
) -> None:
    """A certificate that expired yesterday fails validity; judged at a time inside it, it builds."""
    now = dt.datetime.now(dt.UTC)
    issued = make_certificate(
        pki.g2.client.certificate.subject,
        pki.g2.client.key,
        issuer=pki.g2.intermediate,
        ca=False,
        not_before=now - dt.timedelta(days=20),
        not_after=now - dt.timedelta(days=1),
    )
    builder = _trusting_all(pki).with_identity(issued.certificate, issued.key)
    with pytest.raises(CertificateNotValidError, match="expired on"):
        builder.build()
    assert builder.at(now - dt.timedelta(days=2)).build().report.ok


def test_certificate_without_client_auth_is_refused(pki: GeneratedPki) -> None:
    """A serverAuth-only certificate cannot be a client certificate: CertificateUsageError."""
    issued = make_certificate(
        pki.g2.client.certificate.subject,
        pki.g2.client.key,
        issuer=pki.g2.intermediate,
        ca=False,
        eku=(ExtendedKeyUsageOID.SERVER_AUTH,),
    )
    with pytest.raises(CertificateUsageError, match="clientAuth"):
        _trusting_all(pki).with_identity(issued.certificate, issued.key).build()


def test_missing_issuer_is_named(pki: GeneratedPki) -> None:
    """With only the G1 CAs trusted, a G2 client's error names the issuer its certificate asks for."""
    builder = (
        KeyStoreBuilder()
        .add_trusted_certificates([pki.g1.root.certificate, pki.g1.intermediate.certificate])
        .with_identity(pki.g2.client.certificate, pki.g2.client.key)
    )
    with pytest.raises(ChainError) as caught:
        builder.build()
    assert "CN=Test G2 Authentication G2" in str(caught.value)


def test_bad_signature_in_the_chain_is_refused(pki: GeneratedPki) -> None:
    """A certificate naming the G2 intermediate as issuer but signed by another key fails the chain."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(pki.g2.client.certificate.subject)
        .issuer_name(pki.g2.intermediate.certificate.subject)
        .public_key(pki.g2.client.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(pki.g2.client.certificate.not_valid_before_utc)
        .not_valid_after(pki.g2.client.certificate.not_valid_after_utc)
    )
    for extension in pki.g2.client.certificate.extensions:
        if not isinstance(extension.value, x509.AuthorityKeyIdentifier):
            builder = builder.add_extension(extension.value, critical=extension.critical)
    forgery = builder.sign(pki.foreign.intermediate.key, hashes.SHA256())
    with pytest.raises(ChainError, match="does not verify"):
        _trusting_all(pki).with_identity(forgery, pki.g2.client.key).build()


def test_g1_identity_needs_to_be_allowed(pki: GeneratedPki) -> None:
    """Where the catalogue knows the issuer as G1, packaging needs allow_g1, and then it warns."""
    builder = _nhs_like(pki).with_identity(pki.g1.client.certificate, pki.g1.client.key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(GenerationError, match="G1 certificate"):
            builder.build()
    with pytest.warns(G1IdentityWarning, match="G1 client certificate"):
        keystore = builder.allow_g1().build()
    assert keystore.report.generation is not None
    assert keystore.report.generation.value == "g1"


def test_certificate_from_another_environment_is_refused(pki: GeneratedPki) -> None:
    """A client issued under the (test) INT hierarchy is refused in a prod key store."""
    builder = _nhs_like(pki).with_identity(pki.foreign.client.certificate, pki.foreign.client.key)
    with pytest.raises(IdentityEnvironmentError, match="not for the prod environment"):
        builder.build()


def test_identity_repr_and_errors_never_show_the_key(pki: GeneratedPki, tmp_path: Path) -> None:
    """repr() of the identity and key store, and a refusal's message, carry no key material."""
    cert, key = _files(pki.g2, tmp_path)
    keystore = _trusting_all(pki).with_identity(cert, key).build()
    key_text = key.read_text()
    body = "".join(key_text.splitlines()[1:-1])
    for text in (repr(keystore.identity), repr(keystore), str(keystore.report)):
        assert "PRIVATE" not in text
        assert body[:40] not in text
    assert "RSA-2048" in repr(keystore.identity)


def test_key_store_needs_a_password(pki: GeneratedPki) -> None:
    """A key store is never serialised without a password (Java would read it as empty)."""
    keystore = (
        _trusting_all(pki).with_identity(pki.g2.client.certificate, pki.g2.client.key).build()
    )
    with pytest.raises(MissingPasswordError, match="empty store"):
        keystore.to_jks("")


@pytest.mark.slow
def test_jks_key_store_lists_key_entry_and_trusted_cas_in_keytool(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    """Keytool shows the JKS: one PrivateKeyEntry (chain of 3) and the four CAs as trustedCertEntry."""
    keystore = (
        _trusting_all(pki).with_identity(pki.g2.client.certificate, pki.g2.client.key).build()
    )
    path = tmp_path / "keystore.jks"
    path.write_bytes(keystore.to_jks(PASSWORD))
    done = keytool(
        "-list", "-v", "-keystore", path, "-storepass:env", PASSWORD_VARIABLE, password=PASSWORD
    )
    assert done.returncode == 0, done.stdout + done.stderr
    listing = done.stdout
    assert listing.count("Entry type: PrivateKeyEntry") == 1
    assert "Certificate chain length: 3" in listing
    assert listing.count("Entry type: trustedCertEntry") == 4


def test_identity_is_taken_from_an_old_key_store(pki: GeneratedPki, tmp_path: Path) -> None:
    """Rebuilding: the key entry of a JKS we wrote comes back as the identity, its CAs as trust."""
    old = _trusting_all(pki).with_identity(pki.g2.client.certificate, pki.g2.client.key).build()
    path = tmp_path / "old.jks"
    path.write_bytes(old.to_jks(PASSWORD))
    rebuilt = KeyStoreBuilder().with_identity_from_store(path, password=PASSWORD).build()
    assert rebuilt.identity.certificate == pki.g2.client.certificate
    assert rebuilt.alias == old.alias
    assert {e.sha256 for e in rebuilt.trust_store} == {e.sha256 for e in old.trust_store}


def test_identity_from_a_store_that_marks_nothing_trusted(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    """A store of key, leaf and chain with no trusted entry: its CAs are trust, the leaf is not.

    ``openssl pkcs12 -export`` writes such stores; the client certificate was taken as a trust
    entry, and refused as no CA, before.
    """
    path = tmp_path / "exported.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"mesh-client",
            pki.g2.client.key,
            pki.g2.client.certificate,
            [pki.g2.intermediate.certificate, pki.g2.root.certificate],
            serialization.BestAvailableEncryption(PASSWORD.encode()),
        )
    )
    rebuilt = KeyStoreBuilder().with_identity_from_store(path, password=PASSWORD).build()
    assert rebuilt.identity.certificate == pki.g2.client.certificate
    assert rebuilt.alias == "mesh-client"
    assert {e.certificate for e in rebuilt.trust_store} == {
        pki.g2.root.certificate,
        pki.g2.intermediate.certificate,
    }
    # The control: the same file as a trust source still gives every certificate, leaf too.
    with pytest.raises(NotACertificateAuthorityError):
        KeyStoreBuilder().add_trusted_file(path, password=PASSWORD).with_identity(
            pki.g2.client.certificate, pki.g2.client.key
        ).build()


def test_old_g1_key_store_rebuilt_with_the_new_g2_identity(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    """An old JKS (G1 key entry, G1 CAs) keeps its trusted CAs; the new store has the G2 key entry."""
    g1_only = KeyStoreBuilder().add_trusted_certificates(
        [pki.g1.root.certificate, pki.g1.intermediate.certificate]
    )
    old_path = tmp_path / "old.jks"
    old_path.write_bytes(
        g1_only.with_identity(pki.g1.client.certificate, pki.g1.client.key).build().to_jks(PASSWORD)
    )
    rebuilt = (
        KeyStoreBuilder()
        .add_trusted_file(old_path, password=PASSWORD)
        .add_trusted_certificates([pki.g2.root.certificate, pki.g2.intermediate.certificate])
        .with_identity(pki.g2.client.certificate, pki.g2.client.key)
        .build()
    )
    assert rebuilt.identity.certificate == pki.g2.client.certificate
    trusted = {e.certificate for e in rebuilt.trust_store}
    assert trusted == {
        pki.g1.root.certificate,
        pki.g1.intermediate.certificate,
        pki.g2.root.certificate,
        pki.g2.intermediate.certificate,
    }
    assert pki.g1.client.certificate not in trusted


def test_a_g1_refusal_names_the_remedy_its_reader_can_type(
    pki: GeneratedPki, capsys: pytest.CaptureFixture[str]
) -> None:
    """Python's error says allow_g1(); the command line's --allow-g1; a recipe's its key."""
    builder = _nhs_like(pki).with_identity(pki.g1.client.certificate, pki.g1.client.key)
    with pytest.raises(GenerationError) as caught:
        builder.build()
    error = caught.value
    assert str(error).endswith("; call allow_g1() to package it anyway (it then warns)")
    report_error(error, debug=False)
    err = capsys.readouterr().err
    assert err.endswith("; add --allow-g1 to package it anyway (it then warns)\n")
    assert "allow_g1()" not in err
    in_recipe = _in_context(error, "r.toml: identity")
    assert isinstance(in_recipe, GenerationError)
    assert str(in_recipe) == (
        f"r.toml: identity: {error.problem}; set allow_g1 = true in the recipe to package it "
        "anyway (it then warns)"
    )


def _old_store_and_reply(pki: GeneratedPki, tmp_path: Path) -> tuple[Path, Path, KeyStore]:
    """An old JKS (G2 client key entry, alias mesh-client, a partner CA) and a renewed certificate."""
    old = (
        _trusting_all(pki)
        .add_trusted_certificates([pki.foreign.root.certificate])
        .with_identity(pki.g2.client.certificate, pki.g2.client.key, alias="Mesh-Client")
        .build()
    )
    path = tmp_path / "old.jks"
    path.write_bytes(old.to_jks(PASSWORD))
    renewed = make_certificate(
        pki.g2.client.certificate.subject,
        pki.g2.client.key,  # the same key: the reply to csr --from-store
        issuer=pki.g2.intermediate,
        ca=False,
        not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=3 * 365),
    )
    reply = tmp_path / "reply.pem"
    reply.write_bytes(renewed.cert_pem())
    return path, reply, old


def test_renewal_replaces_the_certificate_and_keeps_key_alias_and_trust(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    """The CA's reply goes into the old store's entry: same key and alias, new certificate, same CAs."""
    from truststore_builder._diff import diff_stores  # noqa: PLC0415

    path, reply, old = _old_store_and_reply(pki, tmp_path)
    renewed = (
        KeyStoreBuilder()
        .with_identity_from_store(path, password=PASSWORD, certificate=reply)
        .build()
    )
    assert renewed.alias == "mesh-client"
    assert renewed.identity.certificate != old.identity.certificate
    assert renewed.identity.certificate.serial_number != old.identity.certificate.serial_number
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    assert renewed.identity.key.public_key().public_bytes(
        serialization.Encoding.DER, public
    ) == old.identity.key.public_key().public_bytes(serialization.Encoding.DER, public)
    assert [c.subject for c in renewed.chain] == [c.subject for c in old.chain]
    assert {e.sha256 for e in renewed.trust_store} == {e.sha256 for e in old.trust_store}
    new_path = tmp_path / "new.jks"
    new_path.write_bytes(renewed.to_jks(PASSWORD))
    diff = diff_stores(path, new_path, old_password=PASSWORD, new_password=PASSWORD)
    (change,) = diff.key_entries
    assert (change.kind, change.certificate_changed, change.key_changed) == ("changed", True, False)
    assert not diff.added
    assert not diff.removed
    # OpenSSL reads the renewed PKCS#12: its certificate is the reply, its key certified by it.
    p12 = tmp_path / "new.p12"
    p12.write_bytes(renewed.to_pkcs12(PASSWORD))
    leaf = openssl_with_password("pkcs12", "-in", p12, "-nokeys", "-clcerts", password=PASSWORD)
    assert leaf.returncode == 0, leaf.stderr
    assert x509.load_pem_x509_certificate(leaf.stdout.encode()) == renewed.identity.certificate
    key = openssl_with_password("pkcs12", "-in", p12, "-nocerts", "-nodes", password=PASSWORD)
    assert key.returncode == 0, key.stderr
    loaded = serialization.load_pem_private_key(key.stdout.encode(), None)
    assert loaded.public_key().public_bytes(
        serialization.Encoding.DER, public
    ) == renewed.identity.certificate.public_key().public_bytes(serialization.Encoding.DER, public)
    # The control: rebuilt without the reply, the store's entry is unchanged.
    same = KeyStoreBuilder().with_identity_from_store(path, password=PASSWORD).build()
    same_path = tmp_path / "same.jks"
    same_path.write_bytes(same.to_jks(PASSWORD))
    (kept,) = diff_stores(path, same_path, old_password=PASSWORD, new_password=PASSWORD).key_entries
    assert kept.kind == "unchanged"


def test_renewal_refuses_a_reply_for_another_key(pki: GeneratedPki, tmp_path: Path) -> None:
    """A certificate for another key is not the reply: ReplyKeyMismatchError naming the file."""
    from truststore_builder import KeyMismatchError  # noqa: PLC0415
    from truststore_builder._errors import ReplyKeyMismatchError  # noqa: PLC0415

    path, _reply, _old = _old_store_and_reply(pki, tmp_path)
    other = tmp_path / "other.pem"
    other.write_bytes(pki.foreign.client.cert_pem())
    with pytest.raises(ReplyKeyMismatchError) as caught:
        KeyStoreBuilder().with_identity_from_store(path, password=PASSWORD, certificate=other)
    assert isinstance(caught.value, KeyMismatchError)
    message = str(caught.value)
    assert message.startswith(f"{other}: refused: ")
    assert "entry 'mesh-client'" in message
    assert PASSWORD not in message
    assert "PRIVATE" not in message


def test_renewal_runs_the_identity_rules_on_the_new_certificate(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    """A reply without clientAuth, or already expired, is refused at build by the identity rules."""
    path, _reply, _old = _old_store_and_reply(pki, tmp_path)
    subject, key = pki.g2.client.certificate.subject, pki.g2.client.key
    no_client_auth = make_certificate(
        subject,
        key,
        issuer=pki.g2.intermediate,
        ca=False,
        eku=(ExtendedKeyUsageOID.SERVER_AUTH,),
    )
    expired = make_certificate(
        subject,
        key,
        issuer=pki.g2.intermediate,
        ca=False,
        not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        not_after=dt.datetime(2021, 1, 1, tzinfo=dt.UTC),
    )
    for issued, error in (
        (no_client_auth, CertificateUsageError),
        (expired, CertificateNotValidError),
    ):
        builder = KeyStoreBuilder().with_identity_from_store(
            path, password=PASSWORD, certificate=issued.certificate
        )
        with pytest.raises(error):
            builder.build()


def test_spki_der_is_one_key_however_it_is_held() -> None:
    """A certificate, its private key and its public key give one SPKI; another key differs."""
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "spki")])
    for key in (rsa_key(), ec.generate_private_key(ec.SECP256R1())):
        certificate = make_certificate(name, key, ca=False).certificate
        der = spki_der(key)
        assert der == spki_der(certificate) == spki_der(key.public_key())
        loaded = serialization.load_der_public_key(der)
        assert loaded.public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    assert spki_der(rsa_key()) != spki_der(rsa_key())
