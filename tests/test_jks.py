"""JKS and JCEKS trust stores, proven against JDK 17's keytool and an independent reader."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import jks
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.commands import keytool
from tests.strategies import certificates
from truststore_builder import StoreFormat, TrustStoreBuilder
from truststore_builder._errors import (
    JksIntegrityNotCheckedWarning,
    MalformedInputError,
    TruststoreBuilderWarning,
    WrongPasswordError,
)
from truststore_builder._formats.jks import (
    _decode_modified_utf8,
    _integrity_digest,
    _timestamp_ms,
    load_jks_store,
    looks_like_jks,
    parse_jks_trusted_certificates,
    serialize_jks_truststore,
)
from truststore_builder._model import StoreEntry, sha256_fingerprint

if TYPE_CHECKING:
    from collections.abc import Callable

BUNDLES = Path(__file__).resolve().parent.parent / "bundles"
PASSWORD = "nhs-trust-store"
# Latin-1, a BMP symbol and a supplementary character (a surrogate pair in Java's char[]).
NON_ASCII_PASSWORD = "pässwörd-€-\U0001d11e"
WRONG_PASSWORD = "not-the-store-password"


def _nhs_certificates() -> list[tuple[str, x509.Certificate]]:
    """Every NHS CA certificate in bundles/, aliased by its file name."""
    return [
        (path.stem, x509.load_pem_x509_certificate(path.read_bytes()))
        for path in sorted(BUNDLES.glob("*.pem"))
    ]


@pytest.fixture(scope="module")
def nhs() -> list[tuple[str, x509.Certificate]]:
    """The NHS CA certificates with their aliases."""
    entries = _nhs_certificates()
    assert len(entries) >= 2
    return entries


def keytool_listing(path: Path, password: str, store_type: str) -> dict[str, tuple[str, str]]:
    """Map each alias keytool lists to (entry type, SHA-256 of its first certificate)."""
    done = keytool(
        "-list", "-v", "-keystore", str(path), "-storepass", password, "-storetype", store_type
    )
    assert done.returncode == 0, done.stdout + done.stderr
    listing: dict[str, tuple[str, str]] = {}
    for block in done.stdout.split("Alias name: ")[1:]:
        alias = block.split("\n", 1)[0].strip()
        entry_type = block.split("Entry type: ", 1)[1].split("\n", 1)[0].strip()
        sha256 = block.split("SHA256: ", 1)[1].split("\n", 1)[0].strip()
        listing[alias] = (entry_type, sha256.replace(":", "").lower())
    return listing


def der(certificate: x509.Certificate) -> bytes:
    """The certificate's DER encoding."""
    return certificate.public_bytes(Encoding.DER)


def test_looks_like_jks_tells_the_magic_numbers_apart() -> None:
    """looks_like_jks names JKS and JCEKS by magic number and nothing else."""
    assert looks_like_jks(b"\xfe\xed\xfe\xed\x00\x00\x00\x02") == "jks"
    assert looks_like_jks(b"\xce\xce\xce\xce\x00\x00\x00\x02") == "jceks"
    assert looks_like_jks(b"0\x82\x01\x00") is None
    assert looks_like_jks(b"") is None


def test_importing_the_module_does_not_import_pyjks() -> None:
    """Importing the JKS format module leaves pyjks unimported until a store is read or written."""
    code = "import sys, truststore_builder._formats.jks; print('jks' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.slow
@pytest.mark.parametrize(("store_type", "keytool_type"), [("jks", "JKS"), ("jceks", "JCEKS")])
def test_keytool_lists_every_entry_as_trusted(
    tmp_path: Path, nhs: list[tuple[str, x509.Certificate]], store_type: str, keytool_type: str
) -> None:
    """Keytool lists every alias we write as a trustedCertEntry with the right SHA-256."""
    path = tmp_path / f"trust.{store_type}"
    path.write_bytes(serialize_jks_truststore(nhs, PASSWORD.encode(), store_type=store_type))
    expected = {alias: ("trustedCertEntry", sha256_fingerprint(cert)) for alias, cert in nhs}
    assert keytool_listing(path, PASSWORD, keytool_type) == expected


@pytest.mark.slow
def test_keytool_accepts_a_non_ascii_password(
    tmp_path: Path, nhs: list[tuple[str, x509.Certificate]]
) -> None:
    """A non-ASCII password (UTF-8 bytes to us, chars to Java) opens the store in keytool."""
    path = tmp_path / "trust.jks"
    path.write_bytes(serialize_jks_truststore(nhs[:1], NON_ASCII_PASSWORD.encode()))
    alias, certificate = nhs[0]
    listing = keytool_listing(path, NON_ASCII_PASSWORD, "JKS")
    assert listing == {alias: ("trustedCertEntry", sha256_fingerprint(certificate))}
    # keytool really checks the digest: a near-miss password is refused.
    near_miss = keytool(
        "-list", "-keystore", str(path), "-storepass", "pässwörd-€-", "-storetype", "JKS"
    )
    assert near_miss.returncode != 0
    assert "password was incorrect" in near_miss.stdout + near_miss.stderr


@pytest.mark.slow
@pytest.mark.parametrize("password", [PASSWORD, NON_ASCII_PASSWORD])
def test_keytool_made_jks_loads(
    tmp_path: Path, nhs: list[tuple[str, x509.Certificate]], password: str
) -> None:
    """A JKS that keytool made loads as trusted entries, through pyjks and our own reader."""
    path = tmp_path / "keytool.jks"
    for alias, certificate in nhs[:2]:
        pem = tmp_path / f"{alias}.pem"
        pem.write_bytes(certificate.public_bytes(Encoding.PEM))
        done = keytool(
            "-importcert", "-noprompt", "-keystore", str(path), "-storepass", password,
            "-storetype", "JKS", "-alias", alias, "-file", str(pem),
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    data = path.read_bytes()
    loaded = load_jks_store(data, password.encode(), str(path))
    expected = {(alias, sha256_fingerprint(cert), True) for alias, cert in nhs[:2]}
    assert {(e.alias, sha256_fingerprint(e.certificate), e.trusted) for e in loaded} == expected
    parsed = parse_jks_trusted_certificates(data, password.encode())
    assert set(parsed) == {(alias, der(cert)) for alias, cert in nhs[:2]}


@pytest.mark.slow
@pytest.mark.parametrize("keytool_type", ["JKS", "JCEKS"])
def test_keytool_private_key_entry_gives_untrusted_chain(
    tmp_path: Path, nhs: list[tuple[str, x509.Certificate]], keytool_type: str
) -> None:
    """A key entry (key password unlike the store's) reads as its certificate, trusted=False."""
    path = tmp_path / "keys.store"
    made = keytool(
        "-genkeypair", "-keystore", str(path), "-storepass", PASSWORD, "-storetype", keytool_type,
        "-keypass", "a-different-key-password", "-alias", "client", "-keyalg", "RSA",
        "-keysize", "2048", "-validity", "2", "-dname", "CN=test client,O=truststore_builder",
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    alias, certificate = nhs[0]
    pem = tmp_path / "ca.pem"
    pem.write_bytes(certificate.public_bytes(Encoding.PEM))
    imported = keytool(
        "-importcert", "-noprompt", "-keystore", str(path), "-storepass", PASSWORD,
        "-storetype", keytool_type, "-alias", alias, "-file", str(pem),
    )  # fmt: skip
    assert imported.returncode == 0, imported.stdout + imported.stderr
    data = path.read_bytes()

    loaded = {e.alias: e for e in load_jks_store(data, PASSWORD.encode(), str(path))}
    assert set(loaded) == {"client", alias}
    assert loaded["client"].trusted is False
    assert (
        loaded["client"].certificate.subject.rfc4514_string()
        == "CN=test client,O=truststore_builder"
    )
    assert loaded[alias].trusted is True
    assert sha256_fingerprint(loaded[alias].certificate) == sha256_fingerprint(certificate)
    if keytool_type == "JKS":
        # The independent reader steps over the key entry and keeps the trusted one.
        assert parse_jks_trusted_certificates(data, PASSWORD.encode()) == [
            (alias, der(certificate))
        ]


@pytest.mark.parametrize("store_type", ["jks", "jceks"])
def test_round_trip_keeps_aliases_fingerprints_and_order(
    nhs: list[tuple[str, x509.Certificate]], store_type: str
) -> None:
    """Serialise then load gives the same aliases and fingerprints, in order, all trusted."""
    data = serialize_jks_truststore(nhs, NON_ASCII_PASSWORD.encode(), store_type=store_type)
    assert looks_like_jks(data) == store_type
    loaded = load_jks_store(data, NON_ASCII_PASSWORD.encode(), "<bytes>")
    assert [(e.alias, sha256_fingerprint(e.certificate), e.trusted) for e in loaded] == [
        (alias, sha256_fingerprint(cert), True) for alias, cert in nhs
    ]
    if store_type == "jks":
        parsed = parse_jks_trusted_certificates(data, NON_ASCII_PASSWORD.encode())
        assert parsed == [(alias, der(cert)) for alias, cert in nhs]


@pytest.mark.parametrize("store_type", ["jks", "jceks"])
def test_serialisation_is_deterministic(
    monkeypatch: pytest.MonkeyPatch, nhs: list[tuple[str, x509.Certificate]], store_type: str
) -> None:
    """The same inputs give the same bytes, whatever the clock says (entry dates are notBefore)."""
    first = serialize_jks_truststore(nhs, PASSWORD.encode(), store_type=store_type)
    later = time.time() + 86_400 * 400
    monkeypatch.setattr(time, "time", lambda: later)
    assert serialize_jks_truststore(nhs, PASSWORD.encode(), store_type=store_type) == first


@pytest.mark.parametrize("store_type", ["jks", "jceks"])
def test_wrong_password_is_typed_and_not_echoed(
    nhs: list[tuple[str, x509.Certificate]], store_type: str
) -> None:
    """A wrong password raises WrongPasswordError naming the source and not the password."""
    data = serialize_jks_truststore(nhs, PASSWORD.encode(), store_type=store_type)
    with pytest.raises(WrongPasswordError) as caught:
        load_jks_store(data, WRONG_PASSWORD.encode(), "stores/trust.jks")
    message = str(caught.value)
    assert message.startswith("stores/trust.jks: ")
    assert WRONG_PASSWORD not in message
    assert PASSWORD not in message
    assert caught.value.source == "stores/trust.jks"
    if store_type == "jks":
        with pytest.raises(WrongPasswordError) as parsed:
            parse_jks_trusted_certificates(data, WRONG_PASSWORD.encode())
        assert WRONG_PASSWORD not in str(parsed.value)


def test_flipped_body_byte_fails_the_integrity_check(
    nhs: list[tuple[str, x509.Certificate]],
) -> None:
    """One flipped byte inside a certificate breaks the digest: WrongPasswordError, both readers."""
    data = bytearray(serialize_jks_truststore(nhs, PASSWORD.encode()))
    offset = bytes(data).index(der(nhs[0][1])) + 100
    data[offset] ^= 0x01
    with pytest.raises(WrongPasswordError, match="integrity check failed"):
        load_jks_store(bytes(data), PASSWORD.encode(), "flipped.jks")
    with pytest.raises(WrongPasswordError, match="integrity check failed"):
        parse_jks_trusted_certificates(bytes(data), PASSWORD.encode())


@pytest.mark.parametrize("keep", [4, 10, 14, 40, 1000, -21, -1])
def test_truncated_store_is_malformed(nhs: list[tuple[str, x509.Certificate]], keep: int) -> None:
    """A store cut short anywhere (header, entry, certificate, digest) is MalformedInputError."""
    data = serialize_jks_truststore(nhs, PASSWORD.encode())[:keep]
    with pytest.raises(MalformedInputError) as caught:
        load_jks_store(data, PASSWORD.encode(), "cut.jks")
    assert str(caught.value).startswith("cut.jks: ")
    with pytest.raises(MalformedInputError):
        parse_jks_trusted_certificates(data, PASSWORD.encode())


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage, not a key store", b"\xfe\xed\xfe\xed\x00\x00\x00\x07\x00\x00\x00\x00"],
)
def test_garbage_is_malformed(data: bytes) -> None:
    """Garbage, an empty file and an unknown JKS version are MalformedInputError in both readers."""
    with pytest.raises(MalformedInputError):
        load_jks_store(data, PASSWORD.encode(), "junk")
    with pytest.raises(MalformedInputError):
        parse_jks_trusted_certificates(data, PASSWORD.encode())


def test_garbage_entries_never_leak_a_bare_exception(
    nhs: list[tuple[str, x509.Certificate]],
) -> None:
    """Bytes overwritten anywhere in the entries give only the library's typed errors."""
    good = serialize_jks_truststore(nhs[:2], PASSWORD.encode())
    for offset in range(12, len(good) - 20, 7):
        data = bytearray(good)
        data[offset : offset + 4] = b"\xff\x00\x7f\x80"
        for password in (PASSWORD.encode(), None):
            # Anything but these two (or success) propagates and fails the test.
            with (
                contextlib.suppress(MalformedInputError, WrongPasswordError),
                warnings.catch_warnings(),
            ):
                warnings.simplefilter("ignore", JksIntegrityNotCheckedWarning)
                load_jks_store(bytes(data), password, "junk.jks")


def test_trailing_bytes_are_refused_by_the_independent_reader(
    nhs: list[tuple[str, x509.Certificate]],
) -> None:
    """Anything after the digest makes the strict read-back parser refuse the store."""
    data = serialize_jks_truststore(nhs[:1], PASSWORD.encode()) + b"\x00"
    with pytest.raises(MalformedInputError, match="after the JKS digest"):
        parse_jks_trusted_certificates(data, PASSWORD.encode())


def test_independent_reader_reads_jceks_trusted_entries(
    nhs: list[tuple[str, x509.Certificate]],
) -> None:
    """JCEKS trust stores share JKS's layout: the independent reader reads them and checks the digest."""
    data = serialize_jks_truststore(nhs, PASSWORD.encode(), store_type="jceks")
    pairs = parse_jks_trusted_certificates(data, PASSWORD.encode())
    assert [alias for alias, _ in pairs] == [alias for alias, _ in nhs]
    with pytest.raises(WrongPasswordError):
        parse_jks_trusted_certificates(data, b"not-the-password")


def test_independent_reader_refuses_other_magic_numbers() -> None:
    """Content that is neither JKS nor JCEKS is MalformedInputError naming both magic numbers."""
    with pytest.raises(MalformedInputError, match="neither FEEDFEED nor CECECECE"):
        parse_jks_trusted_certificates(b"\x00" * 64, PASSWORD.encode())


def test_no_password_reads_entries_without_the_integrity_check_and_warns(
    nhs: list[tuple[str, x509.Certificate]],
) -> None:
    """Password None: entries read, digest unchecked, one warning saying so (as keytool)."""
    data = bytearray(serialize_jks_truststore(nhs, PASSWORD.encode()))
    data[-1] ^= 0x01  # a broken digest: only a password could reveal it
    with pytest.warns(JksIntegrityNotCheckedWarning) as warned:
        loaded = load_jks_store(bytes(data), None, "old.jks")
    assert [(e.alias, e.trusted) for e in loaded] == [(alias, True) for alias, _ in nhs]
    assert [str(w.message) for w in warned] == [
        (
            "old.jks: read without its password: the JKS store's integrity was not checked "
            "(as keytool warns); give the password to check it"
        )
    ]
    assert issubclass(JksIntegrityNotCheckedWarning, TruststoreBuilderWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_jks_store(serialize_jks_truststore(nhs, PASSWORD.encode()), PASSWORD.encode(), "x")


@pytest.mark.parametrize(
    ("aliases", "problem"),
    [
        (["NHS-Root"], "not lower-case"),
        (["nhs-root", "nhs-root"], "appears twice"),
        ([""], "must not be empty"),
        (["nhs\x00root"], "outside the BMP"),
        (["nhs-\U0001d11e"], "outside the BMP"),
    ],
)
def test_bad_aliases_are_refused(
    nhs: list[tuple[str, x509.Certificate]], aliases: list[str], problem: str
) -> None:
    """Aliases Java would read back differently, or twice, raise ValueError before writing."""
    entries = [(alias, nhs[0][1]) for alias in aliases]
    with pytest.raises(ValueError, match=problem):
        serialize_jks_truststore(entries, PASSWORD.encode())


def test_unknown_store_type_is_refused(nhs: list[tuple[str, x509.Certificate]]) -> None:
    """Only jks and jceks are written."""
    with pytest.raises(ValueError, match="unknown Java key store type"):
        serialize_jks_truststore(nhs[:1], PASSWORD.encode(), store_type="pkcs12")


def test_non_utf8_password(nhs: list[tuple[str, x509.Certificate]]) -> None:
    """A password that is not UTF-8 cannot be written, and reads as a wrong password."""
    with pytest.raises(ValueError, match="not valid UTF-8"):
        serialize_jks_truststore(nhs[:1], b"\xff\xfe")
    data = serialize_jks_truststore(nhs[:1], PASSWORD.encode())
    with pytest.raises(WrongPasswordError, match="not valid UTF-8"):
        load_jks_store(data, b"\xff\xfe", "<bytes>")
    with pytest.raises(WrongPasswordError, match="not valid UTF-8"):
        parse_jks_trusted_certificates(data, b"\xff\xfe")


# --- the writer (pyjks) against Java's layout, written out here ---------------------------------


def encode_modified_utf8(text: str) -> bytes:
    """Java's modified UTF-8 (``DataOutput.writeUTF`` without its length), for hand-made stores.

    Java holds text as UTF-16 chars and encodes each char alone: a supplementary character
    becomes its two surrogates, three bytes each, and NUL becomes ``C0 80``.
    """
    chars = []
    for char in text:
        code = ord(char) - 0x10000
        if code < 0:
            chars.append(char)
        else:
            chars += (chr(0xD800 | code >> 10), chr(0xDC00 | code & 0x3FF))
    return "".join(chars).encode("utf-8", "surrogatepass").replace(b"\x00", b"\xc0\x80")


def write_utf(text: str) -> bytes:
    """A u2 length and the text in Java's modified UTF-8 (``DataOutput.writeUTF``)."""
    encoded = encode_modified_utf8(text)
    assert len(encoded) <= 0xFFFF
    return len(encoded).to_bytes(2, "big") + encoded


def java_layout_store(
    entries: list[tuple[str, x509.Certificate]],
    password: str,
    store_type: str = "jks",
    dates: list[int] | None = None,
) -> bytes:
    """A trust store as the JDK's JavaKeyStore.engineStore lays it out, written here by hand.

    Any aliases at all (NUL, supplementary, repeated), as Java would write them; entry dates
    are the certificates' notBefore unless given.
    """
    magic = "feedfeed" if store_type == "jks" else "cececece"
    body = bytes.fromhex(magic) + (2).to_bytes(4, "big") + len(entries).to_bytes(4, "big")
    for index, (alias, certificate) in enumerate(entries):
        date = _timestamp_ms(certificate) if dates is None else dates[index]
        body += (2).to_bytes(4, "big") + write_utf(alias) + date.to_bytes(8, "big")
        body += write_utf("X.509") + len(der(certificate)).to_bytes(4, "big") + der(certificate)
    return body + _integrity_digest(password, body)


def pyjks_truststore(
    entries: list[tuple[str, x509.Certificate]], password: bytes, store_type: str = "jks"
) -> bytes:
    """One pyjks save of the whole store (the writer saves it a batch at a time)."""
    secret = password.decode("utf-8")
    made = []
    for alias, certificate in entries:
        entry = jks.TrustedCertEntry.new(alias, der(certificate))
        entry.timestamp = _timestamp_ms(certificate)
        made.append(entry)
    data: bytes = jks.KeyStore.new("jks", made).saves(secret)
    if store_type == "jceks":
        # pyjks saves only JKS: the same body under the JCEKS magic, digested again.
        body = b"\xce\xce\xce\xce" + data[4:-20]
        data = body + _integrity_digest(secret, body)
    return data


_NHS_CERTIFICATES = [certificate for _, certificate in _nhs_certificates()]

#: Aliases the writers accept: ASCII as callers write them, and lower-case BMP text.
_valid_aliases = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,40}", fullmatch=True) | st.text(
    alphabet=st.characters(
        exclude_categories=["Cs"], exclude_characters="\x00", max_codepoint=0xFFFF
    ),
    min_size=1,
    max_size=12,
).filter(lambda alias: alias == alias.lower())
#: And anything else: NUL, supplementary characters, lone surrogates, upper case, characters
#: whose lower case differs in length.
_any_aliases = (
    _valid_aliases
    | st.text(alphabet=st.characters(exclude_categories=[]), max_size=12)
    | st.sampled_from(
        [
            "nhs\x00root",
            "\U0001d11e",
            "a\ud834",
            "\u0130",
            "\u00df",
            "\u017f",
            "\u03c3",
            "\u01c5",
            "é€ж",
        ]
    )
)
_certificates = st.sampled_from(_NHS_CERTIFICATES) | certificates()
_entries = st.lists(
    st.tuples(_valid_aliases, _certificates), max_size=6, unique_by=lambda entry: entry[0]
) | st.lists(st.tuples(_any_aliases, _certificates), max_size=6)
_passwords = st.text(max_size=12).map(str.encode) | st.binary(max_size=8)


def _java_would_read_back(entries: list[tuple[str, x509.Certificate]], password: bytes) -> bool:
    """Whether every alias is lower-case, unique, BMP without NUL or a surrogate; the password UTF-8."""
    aliases = [alias for alias, _ in entries]
    try:
        password.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return len(set(aliases)) == len(aliases) and all(
        alias
        and alias == alias.lower()
        and "\x00" not in alias
        and all(ord(char) < 0xD800 or 0xE000 <= ord(char) < 0x10000 for char in alias)
        for alias in aliases
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=_entries, password=_passwords, store_type=st.sampled_from(["jks", "jceks"]))
def test_writer_lays_out_what_java_lays_out_or_refuses(
    entries: list[tuple[str, x509.Certificate]], password: bytes, store_type: str
) -> None:
    """For any aliases, certificates and password: Java's own layout, byte for byte, or a refusal."""
    if _java_would_read_back(entries, password):
        written = serialize_jks_truststore(entries, password, store_type=store_type)
        assert written == java_layout_store(entries, password.decode(), store_type)
    else:
        refusals = r"JKS alias|not valid UTF-8|must not be empty|can't encode"
        with pytest.raises(ValueError, match=refusals):
            serialize_jks_truststore(entries, password, store_type=store_type)


@pytest.mark.parametrize("count", [0, 1, 63, 64, 65, 128, 129])
@pytest.mark.parametrize("store_type", ["jks", "jceks"])
def test_batched_save_is_one_pyjks_save(
    nhs: list[tuple[str, x509.Certificate]], count: int, store_type: str
) -> None:
    """Saved a batch at a time, the store is byte for byte what one pyjks save writes."""
    entries = [(f"ca-{index}", nhs[index % len(nhs)][1]) for index in range(count)]
    written = serialize_jks_truststore(entries, PASSWORD.encode(), store_type=store_type)
    assert written == pyjks_truststore(entries, PASSWORD.encode(), store_type)
    assert written == java_layout_store(entries, PASSWORD, store_type)


@pytest.mark.filterwarnings("ignore::truststore_builder.TruststoreBuilderWarning")
# A certifi root has a negative serial number, which cryptography warns about as it loads it.
@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
@pytest.mark.parametrize("store_type", ["jks", "jceks"])
@pytest.mark.parametrize("password", [PASSWORD, NON_ASCII_PASSWORD])
def test_prod_and_certifi_store_is_one_pyjks_save(store_type: str, password: str) -> None:
    """The benchmark's store (prod G1+G2 and certifi's roots, two batches) is one pyjks save."""
    store = TrustStoreBuilder().add_nhs("prod").add_certifi().build()
    pairs = [(entry.alias, entry.certificate) for entry in store.entries]
    assert len(pairs) > 100
    ours = serialize_jks_truststore(pairs, password.encode(), store_type=store_type)
    assert ours == pyjks_truststore(pairs, password.encode(), store_type)
    assert ours == java_layout_store(pairs, password, store_type)


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("", b""),
        ("X.509", b"X.509"),
        ("\x00", b"\xc0\x80"),
        ("é€", "é€".encode()),
        ("\U0001d11e", b"\xed\xa0\xb4\xed\xb4\x9e"),  # two 3-byte surrogates, not F0 9D 84 9E
        ("\U0010ffff", b"\xed\xaf\xbf\xed\xbf\xbf"),
    ],
)
def test_modified_utf8_known_answers(text: str, encoded: bytes) -> None:
    """NUL and supplementary characters take Java's forms; the rest is plain UTF-8."""
    assert encode_modified_utf8(text) == encoded
    assert _decode_modified_utf8(encoded) == text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_modified_utf8_round_trips_through_the_strict_reader(text: str) -> None:
    """Any text encodes without a zero byte or a 4-byte sequence and decodes back unchanged."""
    encoded = encode_modified_utf8(text)
    assert b"\x00" not in encoded
    assert all(byte < 0xF0 for byte in encoded)
    assert _decode_modified_utf8(encoded) == text


@pytest.mark.parametrize("store_type", ["jks", "jceks"])
def test_pyjks_loads_what_we_write(
    nhs: list[tuple[str, x509.Certificate]], store_type: str
) -> None:
    """The pyjks reader loads our store: alias, X.509 type, DER, notBefore date; digest verified."""
    data = serialize_jks_truststore(nhs, NON_ASCII_PASSWORD.encode(), store_type=store_type)
    store = jks.KeyStore.loads(data, NON_ASCII_PASSWORD)
    assert store.store_type == store_type
    assert [
        (alias, type(entry), entry.type, entry.cert, entry.timestamp)
        for alias, entry in store.entries.items()
    ] == [
        (alias, jks.TrustedCertEntry, "X.509", der(cert), _timestamp_ms(cert))
        for alias, cert in nhs
    ]
    with pytest.raises(jks.KeystoreSignatureException):
        jks.KeyStore.loads(data, WRONG_PASSWORD)


@pytest.mark.slow
@pytest.mark.parametrize(("store_type", "keytool_type"), [("jks", "JKS"), ("jceks", "JCEKS")])
def test_keytool_reads_non_ascii_aliases(
    tmp_path: Path, nhs: list[tuple[str, x509.Certificate]], store_type: str, keytool_type: str
) -> None:
    """Aliases beyond ASCII (Latin-1, Cyrillic, the euro sign) are listed by keytool as written."""
    aliases = ["nhs-é-root", "кор-ca", "euro-€", "x.509 ca"]
    entries = [(alias, cert) for alias, (_, cert) in zip(aliases, nhs, strict=False)]
    path = tmp_path / f"trust.{store_type}"
    path.write_bytes(serialize_jks_truststore(entries, PASSWORD.encode(), store_type=store_type))
    expected = {alias: ("trustedCertEntry", sha256_fingerprint(cert)) for alias, cert in entries}
    assert keytool_listing(path, PASSWORD, keytool_type) == expected


@pytest.mark.filterwarnings("ignore::truststore_builder.TruststoreBuilderWarning")
def test_reading_does_not_import_pyjks_and_writing_does(tmp_path: Path) -> None:
    """Reading JKS and JCEKS stores (API and CLI) never loads pyjks's stack; writing one does."""
    store = TrustStoreBuilder().add_nhs("prod").build()
    store.write(tmp_path / "t.jks", StoreFormat.JKS, password="changeit")
    store.write(tmp_path / "t.jceks", StoreFormat.JCEKS, password="changeit")
    code = """if True:
        import os, sys, warnings
        from pathlib import Path
        from truststore_builder import StoreFormat, TrustStoreBuilder, read_store
        from truststore_builder._cli import main
        warnings.simplefilter("ignore")
        heavy = ("jks", "Cryptodome", "pyasn1", "javaobj", "twofish")
        def loaded():
            return sorted(name for name in sys.modules if name.split(".")[0] in heavy)
        os.environ["PW"] = "changeit"
        for name in ("t.jks", "t.jceks"):
            path = Path(sys.argv[1]) / name
            assert len(read_store(path, password="changeit")) == int(sys.argv[2])
            assert len(read_store(path)) == int(sys.argv[2])
            assert main(["inspect", str(path), "--password-env", "PW"]) == 0
        print(loaded())
        TrustStoreBuilder().add_nhs("prod").build().to_jks("changeit")
        print(loaded())
    """
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path), str(len(store.entries))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    read, written = done.stdout.splitlines()[-2:]
    assert read == "[]"
    assert "'jks'" in written


# --- reading trust stores without pyjks, answering exactly as pyjks does ----------------------


def read_outcome(
    read: Callable[[bytes, bytes | None, str], list[StoreEntry]],
    data: bytes,
    password: bytes | None,
) -> list[tuple[str, bytes, bool]] | tuple[type[Exception], str]:
    """What a reader makes of a store: (alias, DER, trusted) per entry, or the refusal."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", JksIntegrityNotCheckedWarning)
            entries = read(data, password, "store.jks")
    except (MalformedInputError, WrongPasswordError) as exc:
        return type(exc), str(exc)
    return [(entry.alias, der(entry.certificate), entry.trusted) for entry in entries]


def pyjks_outcome(data: bytes, password: bytes | None) -> list[tuple[str, bytes, bool]] | None:
    """What pyjks, the reference that wrote key stores before us, reads; None if it refuses."""
    try:
        secret = None if password is None else password.decode("utf-8")
        store = jks.KeyStore.loads(data, secret, try_decrypt_keys=False)
    except Exception:  # noqa: BLE001 - pyjks raises anything on a store it refuses
        return None
    read: list[tuple[str, bytes, bool]] = []
    for alias, entry in store.entries.items():
        if isinstance(entry, jks.TrustedCertEntry):
            if entry.type != "X.509":  # Java has no CertificateFactory for another type
                return None
            read.append((alias, entry.cert, True))
        elif isinstance(entry, jks.PrivateKeyEntry):
            if any(cert_type != "X.509" for cert_type, _ in entry.cert_chain):
                return None
            read += [(alias, certificate, False) for _type, certificate in entry.cert_chain]
    try:  # pyjks hands certificates over unparsed; a reader of certificates parses them
        for _alias, certificate, _trusted in read:
            x509.load_der_x509_certificate(certificate)
    except ValueError:
        return None
    return read


def assert_reads_as_pyjks_or_refuses(data: bytes, password: bytes | None) -> None:
    """Where pyjks reads a store, we read the same entries; where it refuses, we refuse too."""
    ours, reference = read_outcome(load_jks_store, data, password), pyjks_outcome(data, password)
    if reference is None:
        assert isinstance(ours, tuple), ours
    else:
        assert ours == reference


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    entries=st.lists(
        st.tuples(_valid_aliases, _certificates), max_size=4, unique_by=lambda entry: entry[0]
    ),
    store_type=st.sampled_from(["jks", "jceks"]),
    damage=st.sampled_from(["none", "flip", "cut", "append"]),
    where=st.integers(min_value=0),
    read_password=st.sampled_from([PASSWORD, WRONG_PASSWORD, None, "\xff"]),
)
def test_trust_store_reader_answers_as_pyjks(
    entries: list[tuple[str, x509.Certificate]],
    store_type: str,
    damage: str,
    where: int,
    read_password: str | None,
) -> None:
    """Whole, damaged, with any password or none: the pyjks-free path gives pyjks's answer."""
    data = serialize_jks_truststore(entries, PASSWORD.encode(), store_type=store_type)
    at = where % len(data)
    if damage == "flip":
        data = data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]
    elif damage == "cut":
        data = data[:at]
    elif damage == "append":
        data += b"\x00" * (1 + where % 3)
    password = None if read_password is None else read_password.encode("latin-1")
    assert_reads_as_pyjks_or_refuses(data, password)


@pytest.mark.parametrize(
    ("aliases", "read"),
    [
        (["nhs\x00root"], True),
        (["\U0001d11e-ca", "ca-\U0001f600"], True),
        (["Upper", "upper"], False),
        (["same", "same"], False),
        (["a\ud834"], False),
    ],
)
def test_aliases_java_allows_are_read_as_java_reads_them(
    nhs: list[tuple[str, x509.Certificate]], aliases: list[str], *, read: bool
) -> None:
    """NUL and emoji aliases (pyjks refused them) read as Java writes them; twins refused."""
    data = java_layout_store(
        [(alias, nhs[0][1]) for alias in aliases], PASSWORD, dates=[0] * len(aliases)
    )
    outcome = read_outcome(load_jks_store, data, PASSWORD.encode())
    if read:
        assert pyjks_outcome(data, PASSWORD.encode()) is None  # what failed before
        assert outcome == [(alias, der(nhs[0][1]), True) for alias in aliases]
    else:
        assert isinstance(outcome, tuple)
        assert outcome[0] is MalformedInputError


@pytest.mark.slow
def test_key_stores_are_read_as_pyjks_reads_them(tmp_path: Path) -> None:
    """A keytool key store (key entry and trusted entry) reads the same through either path."""
    path = tmp_path / "keys.jks"
    made = keytool(
        "-genkeypair", "-keystore", str(path), "-storepass", PASSWORD, "-storetype", "JKS",
        "-alias", "client", "-keyalg", "EC", "-validity", "2", "-dname", "CN=client",
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    data = path.read_bytes()
    for password in (PASSWORD.encode(), None):
        ours = read_outcome(load_jks_store, data, password)
        assert ours == pyjks_outcome(data, password)
        assert isinstance(ours, list)
        assert [trusted for _, _, trusted in ours] == [False]
