"""How the model shows itself: one-line reprs, text tables, HTML tables for Jupyter.

Expired and soon-to-expire certificates are marked; hostile certificate text is escaped; no
private key material ever appears.
"""

from __future__ import annotations

import datetime as dt
import html.parser
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.pki import make_certificate, rsa_key
from truststore_builder import (
    ChainError,
    ExpiredCertificateWarning,
    Identity,
    IdentityReport,
    KeyStoreBuilder,
    TrustedEntry,
    TrustStore,
)
from truststore_builder._report import Cell, html_table, text_table

if TYPE_CHECKING:
    from tests.pki import GeneratedPki, Issued

AT = dt.datetime(2030, 1, 15, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
#: Tags the HTML views may use: tables in a div, nothing that loads or runs anything.
ALLOWED_TAGS = {"div", "table", "caption", "thead", "tbody", "tr", "th", "td"}
HOSTILE_CN = "<script>alert(1)</script>"
HOSTILE_SOURCE = '<img src=x onerror="alert(2)">'


def _name(common_name: str, *, org: str = "Test", unit: str = "CA") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca(common_name: str, not_after: dt.datetime, **name: str) -> Issued:
    return make_certificate(
        _name(common_name, **name),
        rsa_key(),
        ca=True,
        not_before=AT - 3650 * DAY,
        not_after=not_after,
    )


def _entry(alias: str, issued: Issued, source: str = "test.pem") -> TrustedEntry:
    return TrustedEntry(alias=alias, certificate=issued.certificate, source=source)


@pytest.fixture(scope="module")
def store() -> TrustStore:
    """Three entries at AT: one expired, one expiring in 30 days, one valid for years."""
    return TrustStore(
        entries=(
            _entry("old-root", _ca("Old Root", AT - 10 * DAY)),
            _entry("soon-root", _ca("Soon Root", AT + 30 * DAY)),
            _entry("new-root", _ca("New Root", AT + 3000 * DAY)),
        ),
        validated_at=AT,
    )


class _Tags(html.parser.HTMLParser):
    """Every start tag and attribute name in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.titles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            self.attributes.add(name)
            if name == "title" and value is not None:
                self.titles.append(value)


def _parsed(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    parser.close()
    assert parser.tags <= ALLOWED_TAGS, parser.tags - ALLOWED_TAGS
    assert parser.attributes <= {"style", "class", "title"}, parser.attributes
    return parser


def _rows_with(page: str, text: str) -> list[str]:
    """The ``<tr ...>`` opening of each row that contains ``text``."""
    return [row.split(">", 1)[0] for row in page.split("<tr")[1:] if text in row]


# --- TrustStore ---------------------------------------------------------------------------------


def test_truststore_repr_is_one_short_line(store: TrustStore) -> None:
    """Counts, expiry, validation date."""
    assert repr(store) == (
        "<TrustStore 3 entries, 1 expired, 1 expiring within 90 days, validated 2030-01-15>"
    )
    assert repr(TrustStore(entries=(), validated_at=AT)) == (
        "<TrustStore 0 entries, 0 expired, validated 2030-01-15>"
    )
    one = TrustStore(entries=store.entries[2:], validated_at=AT)
    assert repr(one) == "<TrustStore 1 entry, 0 expired, validated 2030-01-15>"


def test_truststore_str_is_a_fixed_width_table_with_status(store: TrustStore) -> None:
    """A summary line, a header, a rule, then one aligned line per entry with its status."""
    lines = str(store).splitlines()
    assert lines[0] == (
        "TrustStore: 3 entries, 1 expired, 1 expiring within 90 days, "
        "validated 2030-01-15 12:00 UTC"
    )
    header, rule, *rows = lines[1:]
    assert header.split() == ["alias", "name", "gen", "not", "after", "status", "sha256"]
    assert set(rule.replace(" ", "")) == {"-"}
    assert [row.split()[0] for row in rows] == ["old-root", "soon-root", "new-root"]
    column = header.index("status")
    assert [row[column:].split("  ")[0] for row in rows] == [
        "expired",
        "expires in 30 days",
        "valid",
    ]
    assert all(row[header.index("sha256") - 2 : header.index("sha256")] == "  " for row in rows)
    assert store.entries[0].sha256[:16] in rows[0]


def test_truststore_html_marks_expired_and_soon_rows(store: TrustStore) -> None:
    """One self-contained table: the expired row and the soon row carry a class and a tint."""
    page = store._repr_html_()
    _parsed(page)
    (expired,) = _rows_with(page, "old-root")
    (soon,) = _rows_with(page, "soon-root")
    (valid,) = _rows_with(page, "new-root")
    assert 'class="tsb-expired"' in expired
    assert "background-color" in expired
    assert 'class="tsb-soon"' in soon
    assert "background-color" in soon
    assert "class=" not in valid
    assert "expires in 30 days" in page
    assert "1 expired, 1 expiring within 90 days" in page
    assert store.entries[0].sha256 in page  # the full fingerprint, as the cell's tooltip


def test_truststore_lists_dropped_entries(store: TrustStore) -> None:
    """Entries dropped as expired are counted in the repr and listed apart."""
    trimmed = TrustStore(entries=store.entries[1:], validated_at=AT, dropped=store.entries[:1])
    assert ", 1 dropped," in repr(trimmed)
    text = str(trimmed)
    assert "dropped (not valid at the validation time):" in text
    assert text.index("old-root") > text.index("dropped")
    assert "Dropped" in trimmed._repr_html_()


def test_nhs_store_shows_names_generations_and_environments() -> None:
    """Catalogue entries show the NHS name, generation and environment."""
    from truststore_builder import TrustStoreBuilder  # noqa: PLC0415

    with pytest.warns(ExpiredCertificateWarning, match="nhs-int-level-1c"):
        # INT Level 1C ends 2029-11-11; named generations keep it.
        built = TrustStoreBuilder().add_nhs("int", ["g1", "g2"]).at(AT).build()
    text = str(built)
    assert "1 expired" in text.splitlines()[0]
    assert "NHS INT Authentication G2" in text
    assert "nhs-ptl-root-authority-g2" in text
    assert " g2 " in text
    page = built._repr_html_()
    _parsed(page)
    assert "NHS INT Level 1C" in page
    assert ">int<" in page
    (level_1c,) = _rows_with(page, "nhs-int-level-1c")
    assert 'class="tsb-expired"' in level_1c


# --- TrustedEntry ---------------------------------------------------------------------------------


def test_trusted_entry_views() -> None:
    """repr: alias, name, expiry, status now; str and HTML: every field, status marked."""
    ended = dt.datetime.now(dt.UTC).replace(microsecond=0) - 10 * DAY
    expired = _entry("old-root", _ca("Old Root", ended))
    assert repr(expired) == (
        f"<TrustedEntry old-root: CN=Old Root,OU=CA,O=Test, not after {ended:%Y-%m-%d}, expired>"
    )
    text = str(expired)
    for field in ("alias", "subject", "issuer", "not before", "not after", "status", "sha256"):
        assert any(line.startswith(field) for line in text.splitlines()), field
    assert expired.sha256 in text
    page = expired._repr_html_()
    _parsed(page)
    (status,) = _rows_with(page, ">status<")
    assert 'class="tsb-expired"' in status


def test_trusted_entry_keeps_equality_and_hash(store: TrustStore) -> None:
    """Replacing attrs' repr keeps attrs' value equality and hashing."""
    entry = store.entries[1]
    twin = TrustedEntry(alias=entry.alias, certificate=entry.certificate, source=entry.source)
    assert twin == entry
    assert hash(twin) == hash(entry)
    assert TrustStore(entries=(twin,), validated_at=AT) == TrustStore(
        entries=(entry,), validated_at=AT
    )


# --- hostile text -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile() -> TrustStore:
    """An entry whose subject and source are markup, and whose OU holds control characters."""
    issued = _ca(HOSTILE_CN, AT + 3000 * DAY, org='A&B "q"', unit="one\ntwo\x1b[31mred")
    return TrustStore(entries=(_entry("hostile", issued, source=HOSTILE_SOURCE),), validated_at=AT)


def test_html_escapes_hostile_certificate_text(hostile: TrustStore) -> None:
    """Markup in a subject or a source is shown as text, never parsed as tags or attributes."""
    for page in (hostile._repr_html_(), hostile.entries[0]._repr_html_()):
        _parsed(page)  # only table tags: no script, no img
        assert "<script" not in page
        assert "<img" not in page
        assert "\\&lt;script\\&gt;alert(1)\\&lt;/script\\&gt;" in page
        assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in page
        assert "A&amp;B" in page
        assert "\x1b" not in page
    titles = _parsed(hostile._repr_html_()).titles
    assert any('O=A&B \\"q\\"' in title for title in titles)  # the tooltip round-trips


def test_text_shows_control_characters_as_escapes(hostile: TrustStore) -> None:
    """A newline or terminal escape in a subject cannot break a table or drive a terminal."""
    for text in (str(hostile), repr(hostile.entries[0]), str(hostile.entries[0])):
        assert "\x1b" not in text
        assert "\\x1b[31m" in text
        assert "one\\ntwo" in text
    assert len(str(hostile).splitlines()) == 4  # summary, header, rule, one row


# --- Identity, KeyStore, IdentityReport -----------------------------------------------------------


def _key_material(identity: Identity) -> list[str]:
    """Recognisable pieces of the identity's private key: PEM body lines and the private exponent."""
    pem = identity.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    body = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    assert isinstance(identity.key, rsa.RSAPrivateKey)
    numbers = identity.key.private_numbers()
    return [*body, "PRIVATE KEY", str(numbers.d)[:40], f"{numbers.d:x}"[:40]]


def _assert_no_key(identity: Identity, *texts: str) -> None:
    for piece in _key_material(identity):
        for text in texts:
            assert piece not in text


@pytest.fixture(scope="module")
def keystore_pki(pki: GeneratedPki) -> KeyStoreBuilder:
    """A builder trusting the generated G1-like and G2-like CAs."""
    return KeyStoreBuilder().add_trusted_certificates(
        [
            pki.g1.root.certificate,
            pki.g1.intermediate.certificate,
            pki.g2.root.certificate,
            pki.g2.intermediate.certificate,
        ]
    )


def test_identity_views_show_key_type_and_size_only(pki: GeneratedPki) -> None:
    """Alias, subject, RSA-2048, expiry; the key's PEM body and private exponent never."""
    identity = Identity(
        alias="client", key=pki.g2.client.key, certificate=pki.g2.client.certificate
    )
    text, page = str(identity), identity._repr_html_()
    assert repr(identity).startswith("<Identity 'client' CN=client.test-g2.test")
    assert "RSA-2048" in repr(identity)
    assert "RSA-2048" in text
    assert "RSA-2048" in page
    _parsed(page)
    _assert_no_key(identity, repr(identity), text, page)


def test_identity_marks_a_certificate_about_to_expire(pki: GeneratedPki) -> None:
    """A client certificate with ten days left is marked in repr, text and HTML."""
    key = rsa_key()
    now = dt.datetime.now(dt.UTC)
    issued = make_certificate(
        _name("expiring.test", unit="Devices"),
        key,
        issuer=pki.g2.intermediate,
        ca=False,
        not_before=now - 300 * DAY,
        not_after=now + 10 * DAY + dt.timedelta(hours=1),
    )
    identity = Identity(alias="expiring", key=key, certificate=issued.certificate)
    assert "expires in 10 days" in repr(identity)
    assert "expires in 10 days" in str(identity)
    page = identity._repr_html_()
    (status,) = _rows_with(page, ">status<")
    assert 'class="tsb-soon"' in status


def test_keystore_views(pki: GeneratedPki, keystore_pki: KeyStoreBuilder) -> None:
    """Identity, chain and trusted CAs in every view; no key material, no password."""
    password = "Keystore-Secret-9921"
    keystore = keystore_pki.with_identity(pki.g2.client.certificate, pki.g2.client.key).build()
    keystore.to_pkcs12(password)  # a password passed through the object is not kept by it
    summary = repr(keystore)
    assert summary.startswith("<KeyStore 'client-test-g2-test' CN=client.test-g2.test")
    assert "RSA-2048" in summary
    assert "chain of 3, trusting 4 CAs (0 expired)" in summary
    text = str(keystore)
    assert "chain (leaf first):" in text
    assert "TrustStore: 4 entries" in text
    assert "checks: all passed" in text
    page = keystore._repr_html_()
    _parsed(page)
    assert "Trusted CAs: 4 entries" in page
    assert page.count("<table") == 3  # identity, chain, trusted CAs
    _assert_no_key(keystore.identity, summary, text, page)
    for shown in (summary, text, page, repr(keystore.report), str(keystore.report)):
        assert password not in shown


def test_identity_report_views(pki: GeneratedPki) -> None:
    """An ok report and a failing one: verdict, chain, every failed rule."""
    chain = (pki.g2.client.certificate, pki.g2.intermediate.certificate, pki.g2.root.certificate)
    ok = IdentityReport(
        certificate=chain[0], chain=chain, issuer_nhs=None, validated_at=AT - 3650 * DAY
    )
    assert repr(ok).startswith("<IdentityReport ok: CN=client.test-g2.test")
    assert "no NHS issuer" in repr(ok)
    failure = ChainError(f"{HOSTILE_SOURCE}: no path from the certificate to a trusted root")
    failed = IdentityReport(
        certificate=chain[0],
        chain=chain[:1],
        issuer_nhs=None,
        validated_at=AT,
        failures=(failure,),
    )
    assert repr(failed).startswith("<IdentityReport 1 failure: CN=client.test-g2.test")
    text = str(failed)
    assert "failures:" in text
    assert "ChainError: " in text
    assert "expired" in text  # the generated client certificate is long expired at AT
    page = failed._repr_html_()
    _parsed(page)
    assert "ChainError" in page
    assert "&lt;img" in page
    (result,) = _rows_with(page, ">result<")
    assert 'class="tsb-expired"' in result


# --- the generic tables (what StoreDiff and other views build on) --------------------------------


def test_generic_html_table_marks_rows_and_escapes_everything() -> None:
    """Headers, caption, cells and tooltips are escaped; diff row classes are tinted."""
    page = html_table(
        ["<b>alias</b>", "fingerprint"],
        [["a&b", Cell("0123", title='"full"', mono=True)], ["kept", "x"], ["gone", "y"]],
        ["added", None, "removed"],
        caption="<i>diff</i>",
    )
    parsed = _parsed(page)
    assert parsed.titles == ['"full"']
    assert "&lt;b&gt;alias&lt;/b&gt;" in page
    assert "&lt;i&gt;diff&lt;/i&gt;" in page
    assert 'class="tsb-added"' in _rows_with(page, "a&amp;b")[0]
    assert 'class="tsb-removed"' in _rows_with(page, "gone")[0]
    assert "class=" not in _rows_with(page, "kept")[0]
    assert "monospace" in page
    with pytest.raises(ValueError, match="zip"):
        html_table(["a"], [["1"], ["2"]], ["added"])


def test_generic_text_table_aligns_and_clips() -> None:
    """Columns line up; long cells are clipped; a title goes first."""
    text = text_table(["a", "b"], [["x" * 100, "1"], ["y", Cell("2")]], title="t", max_width=10)
    assert text.splitlines() == [
        "t",
        "a           b",
        "-           -",
        "xxxxxxx...  1",
        "y           2",
    ]


def test_password_ref_shows_neither_the_variable_name_nor_the_path() -> None:
    """A PasswordRef (and a recipe target holding one) never shows a name a password may be."""
    from truststore_builder.recipe import PasswordRef, RecipeTarget  # noqa: PLC0415

    by_env = PasswordRef(env="S3cret-typed-here")
    by_file = PasswordRef(file="/run/S3cret-typed-here")
    target = RecipeTarget(format="keystore-p12", path="out/client.p12", password=by_env)
    for shown in (repr(by_env), str(by_env), repr(by_file), str(by_file), repr(target)):
        assert "S3cret" not in shown, shown
    # The control: what kind of reference it is still shows, and the value is still held.
    assert repr(by_env) == "PasswordRef(env=<not shown>)"
    assert repr(by_file) == "PasswordRef(file=<not shown>)"
    assert by_env.env == "S3cret-typed-here"
