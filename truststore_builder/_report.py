"""Readable text and HTML for people: tables of store entries with expiry marked, never a secret.

Every object a notebook user meets renders through here: ``__str__`` as fixed-width text,
``_repr_html_`` as a self-contained HTML table (inline styles only, translucent tints that read
on light and dark Jupyter themes), ``__repr__`` as a one-line summary. Certificate text is
attacker-chosen: it is HTML-escaped in HTML, and control characters are shown as escapes in
text. Nothing here sees a password; a private key is described by type and size only.
:func:`text_table` and :func:`html_table` are the generic tables other views build on.

It sits just above the errors, below the values that render themselves through it: it knows
the value classes only as types, so it imports nothing of the package above
``_fingerprints``. Views of use-case results (a diff, an endpoint report) live with those.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import TYPE_CHECKING

import attrs
from cryptography.hazmat.primitives.asymmetric import rsa

from truststore_builder._fingerprints import sha256_fingerprint

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from cryptography import x509

    from truststore_builder._model import (
        Identity,
        IdentityReport,
        PrivateKey,
        RetiredCa,
        TrustedEntry,
    )
    from truststore_builder._stores import KeyStore, TrustStore

__all__ = [
    "ROW_MARKS",
    "SOON",
    "Cell",
    "aligned_lines",
    "describe_key",
    "entries_table",
    "entry_html",
    "entry_summary",
    "entry_text",
    "expiry_level",
    "expiry_status",
    "html_box",
    "html_fields",
    "html_heading",
    "html_table",
    "identity_html",
    "identity_summary",
    "identity_text",
    "keystore_html",
    "keystore_summary",
    "keystore_text",
    "printable",
    "report_html",
    "report_summary",
    "report_text",
    "retired_line",
    "store_html",
    "store_summary",
    "store_text",
    "text_fields",
    "text_table",
]

#: How close an expiry must be to be marked as soon.
SOON = dt.timedelta(days=90)


def expiry_status(not_before: dt.datetime, not_after: dt.datetime, at: dt.datetime) -> str:
    """``expired``, ``not yet valid``, ``expires in N days`` (within :data:`SOON`) or ``valid``."""
    if at > not_after:
        return "expired"
    if at < not_before:
        return "not yet valid"
    if not_after - at <= SOON:
        return f"expires in {(not_after - at).days} days"
    return "valid"


def entries_table(entries: Sequence[TrustedEntry], at: dt.datetime) -> str:
    """A fixed-width table: alias, NHS name and generation, not-after, status, SHA-256 prefix."""
    return text_table(_STORE_TEXT_HEADERS, _store_text_rows(entries, at))


def expiry_level(not_before: dt.datetime, not_after: dt.datetime, at: dt.datetime) -> str:
    """The row class of a validity period at ``at``, for :func:`html_table` to mark.

    ``expired``, ``not-yet-valid``, ``soon`` (expires within :data:`SOON`) or ``valid``.
    """
    if at > not_after:
        return "expired"
    if at < not_before:
        return "not-yet-valid"
    if not_after - at <= SOON:
        return "soon"
    return "valid"


# --- generic tables: text and self-contained HTML ---------------------------------------------


@attrs.frozen
class Cell:
    """A table cell with more than text: a tooltip (HTML ``title``) and/or monospace.

    Attributes:
        text: What the cell shows (escaped when rendered).
        title: A tooltip in HTML (e.g. the full fingerprint); ignored in text.
        mono: Set in a monospace font, unwrapped, in HTML (fingerprints, dates).
    """

    text: str
    title: str | None = None
    mono: bool = False


#: Row classes :func:`html_table` marks, as (background, accent) colours. Translucent tints
#: over whatever the theme's background is, so they read on light and dark Jupyter themes.
ROW_MARKS: Mapping[str, tuple[str, str]] = {
    "expired": ("rgba(220, 38, 38, 0.16)", "#dc2626"),
    "not-yet-valid": ("rgba(220, 38, 38, 0.16)", "#dc2626"),
    "soon": ("rgba(234, 179, 8, 0.22)", "#ca8a04"),
    "added": ("rgba(22, 163, 74, 0.16)", "#16a34a"),
    "removed": ("rgba(220, 38, 38, 0.16)", "#dc2626"),
    "changed": ("rgba(234, 179, 8, 0.22)", "#ca8a04"),
}

_TEXT_CELL_MAX = 64
_BOX = "font-size: 0.9em; line-height: 1.4; margin: 0.25em 0"
_TABLE = "border-collapse: collapse; margin: 0.2em 0 0.6em 0; width: auto"
_CAPTION = "caption-side: top; text-align: left; font-weight: 600; padding: 0.2em 0 0.3em 0"
_PAD = "text-align: left; vertical-align: top; padding: 0.2em 0.7em"
_CELL = f"{_PAD}; border-bottom: 1px solid rgba(128, 128, 128, 0.3)"
_HEAD = f"{_PAD}; font-weight: 600; border-bottom: 2px solid rgba(128, 128, 128, 0.6)"
_MONO = (
    "font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; "
    "font-size: 0.95em; white-space: nowrap"
)


def printable(text: str) -> str:
    r"""``text`` with control and other unprintable characters shown as escapes (``\n``).

    Certificate text is attacker-chosen: a subject holding a newline or a terminal escape
    sequence must not break a table or drive the terminal.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _escaped(text: str) -> str:
    return html.escape(printable(text))


def _cell_text(cell: str | Cell) -> str:
    return cell.text if isinstance(cell, Cell) else cell


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def text_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str | Cell]],
    *,
    title: str | None = None,
    max_width: int = _TEXT_CELL_MAX,
) -> str:
    """A fixed-width text table: a title line, a header, a rule, then one line per row.

    Cells are made printable (see :func:`printable`) and clipped to ``max_width`` characters.
    """
    lines = [printable(title)] if title else []
    body = [[_clip(printable(_cell_text(c)), max_width) for c in row] for row in rows]
    lines += aligned_lines([list(headers), ["-" * len(h) for h in headers], *body])
    return "\n".join(lines)


def aligned_lines(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as lines of left-aligned columns two spaces apart: the one text-table writer.

    Every table written for people, in Python (``str()`` of a store, a report or a diff) and
    on the terminal (``inspect``, ``diff``, ``nhs list``), is laid out here, so every cell is
    made printable (see :func:`printable`) in one place: a certificate's text cannot move the
    cursor, recolour the terminal or rewrite a line.
    """
    if not rows:
        return []
    cells = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]


def _td(cell: str | Cell, style: str, tag: str = "td") -> str:
    text = _cell_text(cell)
    attributes = ""
    if isinstance(cell, Cell):
        if cell.mono:
            style = f"{style}; {_MONO}"
        if cell.title:
            attributes = f' title="{html.escape(printable(cell.title))}"'
    return f'<{tag} style="{style}"{attributes}>{html.escape(printable(text))}</{tag}>'


def _tr(cells: Sequence[str | Cell], row_class: str | None, *, header_first: bool = False) -> str:
    mark = ROW_MARKS.get(row_class or "")
    row_attributes = ""
    first_style = _CELL
    if mark:
        background, accent = mark
        row_attributes = (
            f' class="tsb-{html.escape(row_class or "")}" style="background-color: {background}"'
        )
        first_style = f"{_CELL}; box-shadow: inset 3px 0 0 {accent}"
    parts = [
        _td(cell, first_style if i == 0 else _CELL, "th" if header_first and i == 0 else "td")
        for i, cell in enumerate(cells)
    ]
    return f"<tr{row_attributes}>{''.join(parts)}</tr>"


def html_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str | Cell]],
    row_classes: Sequence[str | None] | None = None,
    *,
    caption: str | None = None,
) -> str:
    """A self-contained HTML table (inline styles only), all text made printable and escaped.

    Args:
        headers: Column headings.
        rows: The rows: strings, or :class:`Cell` for a tooltip or monospace.
        row_classes: Per row, a key of :data:`ROW_MARKS` to tint it (``expired``, ``soon``,
            ``added``, ``removed``, ...) or None; the row also gets ``class="tsb-<key>"``.
        caption: A heading shown above the table.
    """
    rows = list(rows)
    classes = list(row_classes) if row_classes is not None else [None] * len(rows)
    head = "".join(_td(h, _HEAD, "th") for h in headers)
    body = "".join(_tr(row, row_class) for row, row_class in zip(rows, classes, strict=True))
    title = f'<caption style="{_CAPTION}">{_escaped(caption)}</caption>' if caption else ""
    return (
        f'<table style="{_TABLE}">{title}<thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def html_fields(
    fields: Iterable[tuple[str, str | Cell]],
    *,
    caption: str | None = None,
    row_classes: Mapping[str, str] | None = None,
) -> str:
    """A two-column HTML table of named values (``row_classes`` marks fields by name)."""
    marks = row_classes or {}
    body = "".join(
        _tr((Cell(name), value), marks.get(name), header_first=True) for name, value in fields
    )
    title = f'<caption style="{_CAPTION}">{_escaped(caption)}</caption>' if caption else ""
    return f'<table style="{_TABLE}">{title}<tbody>{body}</tbody></table>'


def text_fields(fields: Iterable[tuple[str, str | Cell]], *, title: str | None = None) -> str:
    """Named values, one per line, names aligned (text counterpart of :func:`html_fields`)."""
    pairs = [(name, printable(_cell_text(value))) for name, value in fields]
    width = max((len(name) for name, _ in pairs), default=0)
    lines = [printable(title)] if title else []
    lines += [f"{name.ljust(width)}  {value}".rstrip() for name, value in pairs]
    return "\n".join(lines)


def html_box(*parts: str) -> str:
    """Wrap rendered HTML parts in one block, for ``_repr_html_``."""
    return f'<div class="truststore-builder" style="{_BOX}">{"".join(parts)}</div>'


def html_heading(text: str) -> str:
    """A small heading between tables in :func:`html_box`."""
    return f'<div style="font-weight: 600; margin-top: 0.4em">{_escaped(text)}</div>'


# --- the model's views -----------------------------------------------------------------------


def describe_key(key: PrivateKey) -> str:
    """A short public description such as ``RSA-2048`` or ``EC secp256r1`` (no key material)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return f"RSA-{key.key_size}"
    return f"EC {key.curve.name}"


def _plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"


def _fingerprint_cell(sha256: str) -> Cell:
    return Cell(sha256[:16], title=sha256, mono=True)


def _level_of(entry: TrustedEntry, at: dt.datetime) -> str:
    return expiry_level(entry.not_before, entry.not_after, at)


def _entry_name(entry: TrustedEntry) -> str:
    return entry.nhs.name if entry.nhs else entry.subject


def entry_summary(entry: TrustedEntry, at: dt.datetime) -> str:
    """``alias: NAME (g2), not after DATE, STATUS`` for a repr."""
    generation = f" ({entry.nhs.generation.value})" if entry.nhs else ""
    status = expiry_status(entry.not_before, entry.not_after, at)
    name = _clip(printable(_entry_name(entry)), 80)
    return f"{printable(entry.alias)}: {name}{generation}, not after {entry.not_after:%Y-%m-%d}, {status}"


def _entry_fields(entry: TrustedEntry, at: dt.datetime) -> list[tuple[str, str | Cell]]:
    nhs = entry.nhs
    fields: list[tuple[str, str | Cell]] = [("alias", entry.alias)]
    if nhs:
        environments = ", ".join(e.value for e in nhs.environments)
        fields += [
            ("NHS name", nhs.name),
            ("NHS CA", f"{nhs.generation.value} {nhs.role}, {nhs.purpose}, {environments}"),
        ]
    fields += [
        ("subject", entry.subject),
        ("issuer", entry.issuer),
        ("not before", f"{entry.not_before:%Y-%m-%d %H:%M} UTC"),
        ("not after", f"{entry.not_after:%Y-%m-%d %H:%M} UTC"),
        ("status", expiry_status(entry.not_before, entry.not_after, at)),
        ("sha256", Cell(entry.sha256, mono=True)),
        ("source", entry.source),
    ]
    return fields


def entry_text(entry: TrustedEntry, at: dt.datetime) -> str:
    """A trusted entry's fields, one per line."""
    return text_fields(_entry_fields(entry, at), title=f"TrustedEntry (at {at:%Y-%m-%d %H:%M} UTC)")


def entry_html(entry: TrustedEntry, at: dt.datetime) -> str:
    """A trusted entry's fields as an HTML table, the status row marked."""
    level = _level_of(entry, at)
    return html_box(
        html_fields(
            _entry_fields(entry, at),
            caption=f"TrustedEntry {entry.alias}",
            row_classes={"status": level, "not after": level},
        )
    )


def store_summary(store: TrustStore, *, date_only: bool = False) -> str:
    """``4 entries, 2 expired, 1 expiring within 90 days, validated DATE`` (and dropped ones)."""
    at = store.validated_at
    levels = [_level_of(entry, at) for entry in store.entries]
    invalid = sum(1 for level in levels if level in {"expired", "not-yet-valid"})
    parts = [_plural(len(store.entries), "entry", "entries"), f"{invalid} expired"]
    soon = levels.count("soon")
    if soon:
        parts.append(f"{soon} expiring within {SOON.days} days")
    if store.dropped:
        parts.append(f"{len(store.dropped)} dropped")
    when = f"{at:%Y-%m-%d}" if date_only else f"{at:%Y-%m-%d %H:%M} UTC"
    return f"{', '.join(parts)}, validated {when}"


_STORE_TEXT_HEADERS = ("alias", "name", "gen", "not after", "status", "sha256")
_STORE_HTML_HEADERS = (
    "#",
    "alias",
    "name",
    "gen",
    "env",
    "not after",
    "status",
    "sha256",
    "source",
)


def _store_text_rows(entries: Sequence[TrustedEntry], at: dt.datetime) -> list[tuple[str, ...]]:
    return [
        (
            entry.alias,
            _entry_name(entry),
            entry.nhs.generation.value if entry.nhs else "-",
            f"{entry.not_after:%Y-%m-%d}",
            expiry_status(entry.not_before, entry.not_after, at),
            entry.sha256[:16],
        )
        for entry in entries
    ]


def store_text(store: TrustStore) -> str:
    """The store as text: a summary line, then one line per entry (and the dropped ones)."""
    text = text_table(
        _STORE_TEXT_HEADERS,
        _store_text_rows(store.entries, store.validated_at),
        title=f"TrustStore: {store_summary(store)}",
    )
    if store.dropped:
        text += "\n\n" + text_table(
            _STORE_TEXT_HEADERS,
            _store_text_rows(store.dropped, store.validated_at),
            title="dropped (not valid at the validation time):",
        )
    return text


def _store_html_table(entries: Sequence[TrustedEntry], at: dt.datetime, caption: str) -> str:
    rows: list[tuple[str | Cell, ...]] = []
    classes: list[str | None] = []
    for number, entry in enumerate(entries, 1):
        nhs = entry.nhs
        rows.append(
            (
                str(number),
                Cell(entry.alias, mono=True),
                Cell(_entry_name(entry), title=entry.subject),
                nhs.generation.value if nhs else "-",
                ", ".join(e.value for e in nhs.environments) if nhs else "-",
                Cell(
                    f"{entry.not_after:%Y-%m-%d}",
                    title=f"{entry.not_after:%Y-%m-%d %H:%M:%S} UTC",
                    mono=True,
                ),
                expiry_status(entry.not_before, entry.not_after, at),
                _fingerprint_cell(entry.sha256),
                entry.source,
            )
        )
        classes.append(_level_of(entry, at))
    return html_table(_STORE_HTML_HEADERS, rows, classes, caption=caption)


def store_html(store: TrustStore) -> str:
    """The store as one HTML table, expired and soon-to-expire rows marked."""
    at = store.validated_at
    parts = [_store_html_table(store.entries, at, f"TrustStore: {store_summary(store)}")]
    if store.dropped:
        parts.append(
            _store_html_table(store.dropped, at, "Dropped (not valid at the validation time)")
        )
    return html_box(*parts)


def _chain_rows(
    chain: Sequence[x509.Certificate], at: dt.datetime
) -> tuple[list[tuple[str | Cell, ...]], list[str | None]]:
    rows: list[tuple[str | Cell, ...]] = []
    classes: list[str | None] = []
    for number, certificate in enumerate(chain):
        not_before, not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
        rows.append(
            (
                str(number),
                certificate.subject.rfc4514_string(),
                certificate.issuer.rfc4514_string(),
                Cell(f"{not_after:%Y-%m-%d}", mono=True),
                expiry_status(not_before, not_after, at),
                _fingerprint_cell(sha256_fingerprint(certificate)),
            )
        )
        classes.append(expiry_level(not_before, not_after, at))
    return rows, classes


_CHAIN_HEADERS = ("#", "subject", "issuer", "not after", "status", "sha256")


def _identity_fields(identity: Identity, at: dt.datetime) -> list[tuple[str, str | Cell]]:
    certificate = identity.certificate
    not_before, not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    return [
        ("alias", identity.alias),
        ("subject", certificate.subject.rfc4514_string()),
        ("issuer", certificate.issuer.rfc4514_string()),
        ("key", describe_key(identity.key)),
        ("not before", f"{not_before:%Y-%m-%d %H:%M} UTC"),
        ("not after", f"{not_after:%Y-%m-%d %H:%M} UTC"),
        ("status", expiry_status(not_before, not_after, at)),
        ("sha256", Cell(sha256_fingerprint(certificate), mono=True)),
        ("issuers given", str(len(identity.chain))),
        ("source", identity.source),
    ]


def _identity_level(identity: Identity, at: dt.datetime) -> str:
    certificate = identity.certificate
    return expiry_level(certificate.not_valid_before_utc, certificate.not_valid_after_utc, at)


def identity_summary(identity: Identity, at: dt.datetime) -> str:
    """``'alias' SUBJECT, RSA-2048, not after DATE[, STATUS]`` for a repr; never the key."""
    certificate = identity.certificate
    not_before, not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    status = expiry_status(not_before, not_after, at)
    subject = _clip(printable(certificate.subject.rfc4514_string()), 80)
    return (
        f"{printable(identity.alias)!r} {subject}, {describe_key(identity.key)}, "
        f"not after {not_after:%Y-%m-%d}" + ("" if status == "valid" else f", {status}")
    )


def identity_text(identity: Identity, at: dt.datetime) -> str:
    """The identity's certificate and key description (type and size only) as text."""
    return text_fields(_identity_fields(identity, at), title="Identity")


def identity_html(identity: Identity, at: dt.datetime) -> str:
    """The identity as an HTML table, the certificate's expiry marked."""
    level = _identity_level(identity, at)
    return html_box(
        html_fields(
            _identity_fields(identity, at),
            caption=f"Identity {identity.alias}",
            row_classes={"status": level, "not after": level},
        )
    )


def _failure_lines(failures: Sequence[Exception]) -> list[str]:
    return [f"{type(failure).__name__}: {failure}" for failure in failures]


def report_summary(report: IdentityReport) -> str:
    """``ok: SUBJECT, issued under NAME (g2), validated DATE`` or ``N failures: ...``."""
    verdict = "ok" if report.ok else _plural(len(report.failures), "failure")
    issuer = (
        f", issued under {report.issuer_nhs.name} ({report.issuer_nhs.generation.value})"
        if report.issuer_nhs
        else ", no NHS issuer"
    )
    subject = _clip(printable(report.subject), 80)
    return f"{verdict}: {subject}{issuer}, validated {report.validated_at:%Y-%m-%d}"


def _report_fields(report: IdentityReport) -> list[tuple[str, str | Cell]]:
    nhs = report.issuer_nhs
    return [
        ("subject", report.subject),
        ("NHS issuer", f"{nhs.name} ({nhs.generation.value})" if nhs else "none recognised"),
        ("validated at", f"{report.validated_at:%Y-%m-%d %H:%M} UTC"),
        ("result", "all checks passed" if report.ok else _plural(len(report.failures), "failure")),
    ]


def report_text(report: IdentityReport) -> str:
    """The report as text: fields, the chain, and every failed rule."""
    at = report.validated_at
    rows, _ = _chain_rows(report.chain, at)
    parts = [
        text_fields(_report_fields(report), title="IdentityReport"),
        text_table(_CHAIN_HEADERS, rows, title="chain (leaf first):"),
    ]
    if report.failures:
        parts.append(
            "\n".join(
                ["failures:", *(f"  {printable(line)}" for line in _failure_lines(report.failures))]
            )
        )
    return "\n\n".join(parts)


def _failures_html(failures: Sequence[Exception]) -> str:
    rows = [(type(f).__name__, str(f)) for f in failures]
    return html_table(("rule broken", "message"), rows, ["expired"] * len(rows), caption="Failures")


def report_html(report: IdentityReport) -> str:
    """The report as HTML: fields, the chain with expiry marked, and every failed rule."""
    rows, classes = _chain_rows(report.chain, report.validated_at)
    result_class = {"result": "valid" if report.ok else "expired"}
    parts = [
        html_fields(_report_fields(report), caption="IdentityReport", row_classes=result_class),
        html_table(_CHAIN_HEADERS, rows, classes, caption="Chain (leaf first)"),
    ]
    if report.failures:
        parts.append(_failures_html(report.failures))
    return html_box(*parts)


def keystore_summary(keystore: KeyStore) -> str:
    """``IDENTITY, chain of N, trusting M CAs (K expired)`` for a repr."""
    at = keystore.report.validated_at
    trusted = keystore.trust_store
    expired = sum(1 for e in trusted.entries if not e.is_valid_at(trusted.validated_at))
    return (
        f"{identity_summary(keystore.identity, at)}, chain of {len(keystore.chain)}, "
        f"trusting {len(trusted)} CAs ({expired} expired)"
    )


def keystore_text(keystore: KeyStore) -> str:
    """The key store as text: identity, verified chain, trusted CAs, checks."""
    at = keystore.report.validated_at
    rows, _ = _chain_rows(keystore.chain, at)
    checks = (
        "checks: all passed"
        if keystore.report.ok
        else "\n".join(
            [
                "checks allowed to fail:",
                *(f"  {printable(line)}" for line in _failure_lines(keystore.report.failures)),
            ]
        )
    )
    return "\n\n".join(
        [
            text_fields(
                _identity_fields(keystore.identity, at),
                title=f"KeyStore {printable(keystore.alias)!r}",
            ),
            text_table(_CHAIN_HEADERS, rows, title="chain (leaf first):"),
            store_text(keystore.trust_store),
            checks,
        ]
    )


def keystore_html(keystore: KeyStore) -> str:
    """The key store as HTML: identity, verified chain, trusted CAs and any allowed failures."""
    at = keystore.report.validated_at
    level = _identity_level(keystore.identity, at)
    rows, classes = _chain_rows(keystore.chain, at)
    trusted = keystore.trust_store
    parts = [
        html_fields(
            _identity_fields(keystore.identity, at),
            caption=f"KeyStore {keystore.alias}",
            row_classes={"status": level, "not after": level},
        ),
        html_table(_CHAIN_HEADERS, rows, classes, caption="Chain (leaf first)"),
        _store_html_table(
            trusted.entries, trusted.validated_at, f"Trusted CAs: {store_summary(trusted)}"
        ),
    ]
    if keystore.report.failures:
        parts.append(_failures_html(keystore.report.failures))
    return html_box(*parts)


def retired_line(label: str, retired: RetiredCa) -> str:
    """One line saying that ``label`` (an alias, or a name) is a retired CA and can go."""
    named = label if label == retired.name else f"{label} ({retired.name})"
    return printable(f"retired, can go: {named}: {retired.why}; expired {retired.expired:%Y-%m-%d}")
