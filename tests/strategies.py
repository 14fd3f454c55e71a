"""Hypothesis strategies: small self-signed certificates and trust store entries holding them."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import strategies as st

from truststore_builder._model import Environment, Generation, NhsCa, TrustedEntry

# One key for every generated certificate: key generation is the slow part, and what is under
# test is encoding, not keys.
_KEY = ec.generate_private_key(ec.SECP256R1())

#: Name text as certificates carry it: any Unicode but surrogates (not encodable in UTF-8),
#: including newlines, dashes, RFC 4514 specials and non-ASCII letters; cryptography caps
#: a common name at 64 bytes of UTF-8.
name_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=32
).filter(lambda text: len(text.encode("utf-8")) <= 64) | st.sampled_from(
    ["-----BEGIN CERTIFICATE-----", "a\nb", 'é,+\\"<>;#', " x ", "NHS Root"]
)

_validity_start = st.datetimes(
    min_value=dt.datetime(1970, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=dt.datetime(2090, 1, 1),  # noqa: DTZ001
    timezones=st.just(dt.UTC),
).map(lambda when: when.replace(microsecond=0))


@st.composite
def certificates(draw: st.DrawFn) -> x509.Certificate:
    """A self-signed EC P-256 certificate with a random CN, O, serial and validity."""
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, draw(name_text))]
    if draw(st.booleans()):
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, draw(name_text)))
    name = x509.Name(attributes)
    not_before = draw(_validity_start)
    days = draw(st.integers(min_value=1, max_value=20 * 366))
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(_KEY.public_key())
        .serial_number(draw(st.integers(min_value=1, max_value=2**159 - 1)))
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(_KEY, hashes.SHA256())
    )


nhs_records = st.builds(
    NhsCa,
    slug=st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True),
    name=name_text,
    environments=st.lists(st.sampled_from(Environment), min_size=1, max_size=3, unique=True).map(
        tuple
    ),
    generation=st.sampled_from(Generation),
    role=st.sampled_from(["root", "intermediate"]),
    purpose=st.sampled_from(["authentication", "signing"]),
    sha256=st.none(),
    sha1=st.just("00" * 20),
)


@st.composite
def trusted_entries(draw: st.DrawFn) -> TrustedEntry:
    """A TrustedEntry around a generated certificate, with or without an NHS record."""
    return TrustedEntry(
        alias=draw(st.from_regex(r"[a-z0-9][a-z0-9._-]{0,40}", fullmatch=True)),
        certificate=draw(certificates()),
        source="<bytes>",
        nhs=draw(st.none() | nhs_records),
    )
