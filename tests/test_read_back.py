"""The read-back checks: every difference between what was meant and what reads back is refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import NoEncryption, pkcs12

from tests.pki import rsa_key
from truststore_builder import KeyStoreBuilder, ReadBackError, StoreFormat, TrustStore
from truststore_builder._builders import TrustStoreBuilder
from truststore_builder._checks import _same_private_key, check_read_back
from truststore_builder._formats import pem, pkcs7
from truststore_builder._formats import pkcs12 as ours

if TYPE_CHECKING:
    from cryptography import x509

    from tests.pki import GeneratedPki
    from truststore_builder._formats.keys import PrivateKey
    from truststore_builder._model import StoreEntry

PASSWORD = b"Read-back-pass-5521"


@pytest.fixture(scope="module")
def store() -> TrustStore:
    """The INT G1+G2 trust store: four entries, none expired."""
    return TrustStoreBuilder().add_nhs("int").build()


def _pairs(store: TrustStore) -> list[tuple[str, x509.Certificate]]:
    return [(entry.alias, entry.certificate) for entry in store]


@pytest.mark.parametrize("store_format", [StoreFormat.PKCS12, StoreFormat.PEM, StoreFormat.PKCS7])
def test_what_was_written_reads_back(store: TrustStore, store_format: StoreFormat) -> None:
    """The serialised store itself passes its read-back."""
    check_read_back(store, store_format, store.serialize(store_format, PASSWORD), PASSWORD)


@pytest.mark.parametrize("change", ["reordered", "one-missing", "one-extra"])
def test_pkcs12_with_other_certificates_is_refused(store: TrustStore, change: str) -> None:
    """PKCS#12 bytes holding the certificates in another order, fewer or more are refused."""
    pairs = _pairs(store)
    changed = {
        "reordered": pairs[::-1],
        "one-missing": pairs[:-1],
        "one-extra": [*pairs, ("extra", pairs[0][1])],
    }[change]
    data = ours.serialize_pkcs12_truststore(changed, PASSWORD)
    with pytest.raises(ReadBackError, match=r"^p12 store: read back \d+ certificates where 4"):
        check_read_back(store, StoreFormat.PKCS12, data, PASSWORD)


def test_pkcs12_with_other_aliases_is_refused(store: TrustStore) -> None:
    """The same certificates under another alias are refused."""
    pairs = [(f"{alias}-x", certificate) for alias, certificate in _pairs(store)]
    data = ours.serialize_pkcs12_truststore(pairs, PASSWORD)
    with pytest.raises(ReadBackError, match="aliases read back differ"):
        check_read_back(store, StoreFormat.PKCS12, data, PASSWORD)


def test_pkcs12_without_java_trust_is_refused(store: TrustStore) -> None:
    """The certificates without Java's trusted-certificate attribute are refused, naming them."""
    certificates = [pkcs12.PKCS12Certificate(c, a.encode()) for a, c in _pairs(store)]
    data = pkcs12.serialize_key_and_certificates(None, None, None, certificates, NoEncryption())
    with pytest.raises(ReadBackError, match=r"nhs-int-level-1c.* do not read back as trusted"):
        check_read_back(store, StoreFormat.PKCS12, data, None)


def test_pem_with_another_order_is_refused(store: TrustStore) -> None:
    """A PEM bundle's order is part of what is checked."""
    data = pem.serialize_pem_bundle(store.entries[::-1])
    with pytest.raises(ReadBackError, match="not the same ones"):
        check_read_back(store, StoreFormat.PEM, data, None)


def test_pkcs7_compares_as_a_set(store: TrustStore) -> None:
    """PKCS#7 is a SET OF: any order reads back, a missing certificate does not."""
    check_read_back(store, StoreFormat.PKCS7, pkcs7.serialize_pkcs7(store.certificates[::-1]), None)
    with pytest.raises(ReadBackError, match="read back 3 certificates where 4"):
        check_read_back(
            store, StoreFormat.PKCS7, pkcs7.serialize_pkcs7(store.certificates[1:]), None
        )


def test_private_keys_are_the_same_only_with_the_same_numbers() -> None:
    """Two keys are the same key only when their private numbers are equal, whatever the type."""
    first, second = rsa_key(), rsa_key()
    curve_key = ec.generate_private_key(ec.SECP256R1())
    assert _same_private_key(first, first)
    assert _same_private_key(curve_key, curve_key)
    assert not _same_private_key(first, second)
    assert not _same_private_key(first, curve_key)
    assert not _same_private_key(curve_key, ec.generate_private_key(ec.SECP256R1()))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("another-key", "private key reads back differently"),
        ("shorter-chain", "chain reads back differently"),
        ("one-ca-untrusted", "trusted CA entries read back differently"),
    ],
)
def test_key_store_that_reads_back_differently_is_refused(
    pki: GeneratedPki, monkeypatch: pytest.MonkeyPatch, change: str, message: str
) -> None:
    """A PKCS#12 key store whose key, chain or trusted CAs read back otherwise is refused."""
    keystore = (
        KeyStoreBuilder()
        .add_trusted_certificates([pki.g2.root.certificate, pki.g2.intermediate.certificate])
        .with_identity(pki.g2.client.certificate, pki.g2.client.key)
        .build()
    )
    keystore.to_pkcs12(PASSWORD)  # as written, it reads back
    read = ours.load_pkcs12_keystore

    def read_otherwise(
        data: bytes, password: bytes | None, source: str
    ) -> tuple[list[tuple[str, PrivateKey, list[x509.Certificate]]], list[StoreEntry]]:
        identities, entries = read(data, password, source)
        ((alias, key, chain),) = identities
        if change == "another-key":
            key = rsa_key()
        elif change == "shorter-chain":
            chain = chain[:-1]
        else:
            entries[-1] = attrs.evolve(entries[-1], trusted=False)
        return [(alias, key, chain)], entries

    monkeypatch.setattr(ours, "load_pkcs12_keystore", read_otherwise)
    with pytest.raises(ReadBackError, match=message):
        keystore.to_pkcs12(PASSWORD)
