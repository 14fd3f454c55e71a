"""Use case: propose a new NHS catalogue from CA certificates a user downloaded from NHS England.

:func:`propose_catalogue_update` reads the files, and decides for each certificate:

- **unchanged**: the catalogue already holds it (by pinned fingerprint);
- **added**: a CA (basicConstraints CA, and keyCertSign where it has a keyUsage) whose chain
  reaches a pinned NHS root *by signature* through the catalogue's own certificates, never by
  names alone. It joins its issuer's generation and its issuer's environments (narrowed by the
  environments the caller names; a PTL CA that could serve INT or DEP must be told which); a
  record pinned only (NHS Signing G2) gets its file; a new root only with the caller's pin;
- **expired**: a genuine CA that is not valid at the update time: named with a warning and
  left out, unless ``include_expired`` is asked;
- **refused**: everything else, each with a :class:`CatalogueUpdateError` naming the file
  and the rule (forged, unknown root without a pin, not a CA, retired, ambiguous environment).

:func:`write_catalogue` writes the proposal as a user catalogue directory (manifest with pins,
and the PEM files) that :func:`~truststore_builder.load_nhs_catalogue` reads, and refuses to
write anything while a certificate is refused. The shipped catalogue is never modified.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import html
import re
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from truststore_builder._builders import alias_for
from truststore_builder._errors import CatalogueUpdateError, InputError
from truststore_builder._fingerprints import sha256_fingerprint
from truststore_builder._model import (
    Environment,
    Generation,
    NhsCa,
    is_self_signed,
    issuer_path,
)
from truststore_builder._sources.files import read_store
from truststore_builder._sources.nhs import NhsCatalogue, nhs_catalogue, write_nhs_catalogue

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Sequence

__all__ = [
    "CatalogueChange",
    "CatalogueChangeKind",
    "CatalogueUpdate",
    "propose_catalogue_update",
    "write_catalogue",
]

#: Where a proposal's catalogue says it lives until it is written.
_PROPOSED = Path("<proposed>")
_PIN = re.compile(r"[0-9a-f]{64}|[0-9a-f]{40}")


class CatalogueChangeKind(enum.StrEnum):
    """What a catalogue update does with one certificate."""

    ADDED = "added"
    UNCHANGED = "unchanged"
    EXPIRED = "expired"
    REFUSED = "refused"


@attrs.frozen
class CatalogueChange:
    """One certificate offered to a catalogue update, and what became of it.

    Attributes:
        kind: Added, unchanged, expired (warned, left out unless asked) or refused.
        source: The file it was read from.
        subject: Its subject (RFC 4514).
        sha256: Its SHA-256 fingerprint.
        not_after: When it expires.
        reason: Why, in a phrase (its issuer, the environments chosen, the rule it fails).
        record: The catalogue record it was added as or matched (None when refused).
        error: For a refused one, the error that names the file and the rule.
    """

    kind: CatalogueChangeKind
    source: str
    subject: str
    sha256: str
    not_after: dt.datetime
    reason: str
    record: NhsCa | None = None
    error: CatalogueUpdateError | None = attrs.field(default=None, eq=False, repr=False)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready description."""
        return {
            "kind": self.kind.value,
            "source": self.source,
            "subject": self.subject,
            "sha256": self.sha256,
            "not_after": self.not_after.isoformat(),
            "reason": self.reason,
            "slug": self.record.slug if self.record else None,
            "environments": [e.value for e in self.record.environments] if self.record else None,
            "generation": self.record.generation.value if self.record else None,
        }


@attrs.frozen(kw_only=True)
class CatalogueUpdate:
    """A proposed catalogue: the base one plus what the offered certificates add.

    Shows itself as a table (``str``, and HTML in a notebook). Nothing is written until
    :func:`write_catalogue`.

    Attributes:
        base: The catalogue the update starts from.
        changes: One per certificate offered (de-duplicated by fingerprint), in input order.
        catalogue: The proposed catalogue (in memory; its ``directory`` is ``<proposed>``).
        at: The time validity was judged at.
    """

    base: NhsCatalogue = attrs.field(repr=False)
    changes: tuple[CatalogueChange, ...]
    catalogue: NhsCatalogue = attrs.field(repr=False)
    at: dt.datetime
    _notes: dict[str, str] = attrs.field(factory=dict, repr=False)

    def _of(self, kind: CatalogueChangeKind) -> tuple[CatalogueChange, ...]:
        return tuple(change for change in self.changes if change.kind is kind)

    @property
    def added(self) -> tuple[CatalogueChange, ...]:
        """The certificates the new catalogue adds."""
        return self._of(CatalogueChangeKind.ADDED)

    @property
    def unchanged(self) -> tuple[CatalogueChange, ...]:
        """The certificates the catalogue already holds."""
        return self._of(CatalogueChangeKind.UNCHANGED)

    @property
    def expired(self) -> tuple[CatalogueChange, ...]:
        """Genuine CAs not valid at :attr:`at`, left out (``include_expired`` adds them)."""
        return self._of(CatalogueChangeKind.EXPIRED)

    @property
    def refused(self) -> tuple[CatalogueChange, ...]:
        """The certificates refused, each with its error; while any is, nothing is written."""
        return self._of(CatalogueChangeKind.REFUSED)

    @property
    def notes(self) -> dict[str, str]:
        """The manifest comment above each added record, by slug."""
        return dict(self._notes)

    def raise_for_refused(self) -> None:
        """Raise the refusal (all of them, in one error) if any certificate was refused.

        Raises:
            CatalogueUpdateError: Names each refused file and its rule.
        """
        refused = self.refused
        if not refused:
            return
        if len(refused) == 1 and refused[0].error is not None:
            raise refused[0].error
        listed = "; ".join(f"{change.source}: {change.reason}" for change in refused)
        msg = f"{len(refused)} certificates refused, nothing written: {listed}"
        raise CatalogueUpdateError(msg, source=refused[0].source)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready description of every change."""
        return {
            "at": self.at.isoformat(),
            "base": str(self.base.directory),
            "changes": [change.to_dict() for change in self.changes],
            "added": len(self.added),
            "unchanged": len(self.unchanged),
            "expired": len(self.expired),
            "refused": len(self.refused),
        }

    def _rows(self) -> list[tuple[str, str, str, str, str]]:
        return [
            (
                change.kind.value,
                change.record.slug if change.record else "-",
                change.subject,
                change.source,
                change.reason,
            )
            for change in self.changes
        ]

    def summary(self) -> str:
        """One line: how many certificates were added, unchanged, expired and refused."""
        return (
            f"{len(self.added)} added, {len(self.unchanged)} unchanged, "
            f"{len(self.expired)} expired (left out), {len(self.refused)} refused"
        )

    def __str__(self) -> str:
        """The changes as a text table, then the summary."""
        header = ("change", "alias", "subject", "file", "why")
        rows = [header, *self._rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
        lines = [
            "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]])
            for row in rows
        ]
        return "\n".join([*(line.rstrip() for line in lines), self.summary()])

    def _repr_html_(self) -> str:
        """The changes as an HTML table, for notebooks."""
        head = "".join(f"<th>{h}</th>" for h in ("change", "alias", "subject", "file", "why"))
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
            for row in self._rows()
        )
        return (
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"<p>{html.escape(self.summary())}</p>"
        )


def normalise_pin(text: str) -> str:
    """A pin as lower-case hex: SHA-256, or the SHA-1 thumbprint NHS England's page publishes.

    A ``sha256:`` or ``sha1:`` prefix, colons and spaces are allowed.

    Raises:
        ValueError: Neither 64 nor 40 hex digits.
    """
    bare = text.strip().lower().removeprefix("sha256:").removeprefix("sha1:")
    pin = re.sub(r"[\s:]", "", bare)
    if not _PIN.fullmatch(pin):
        msg = f"not a SHA-256 (64 hex digits) or SHA-1 (40) fingerprint: {text!r}"
        raise ValueError(msg)
    return pin


def _offered(sources: Iterable[str | os.PathLike[str]]) -> list[tuple[str, x509.Certificate]]:
    """Every certificate in the files (directories walked, recursively, in name order).

    A file given by name that holds no certificate is an error; one found in a directory (a
    CRL, an index page saved beside the certificates) is passed over.
    """
    offered: list[tuple[str, x509.Certificate]] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            for file in files:
                try:
                    entries = read_store(file)
                except InputError:
                    continue
                offered += [(str(file), entry.certificate) for entry in entries]
        else:
            offered += [(str(path), entry.certificate) for entry in read_store(path)]
    if not offered:
        msg = f"{', '.join(str(s) for s in sources)}: no certificate found"
        raise InputError(msg, source=str(next(iter(sources), "")))
    return offered


def _ca_problem(certificate: x509.Certificate) -> str | None:
    """Why a certificate cannot be a CA (basicConstraints, keyUsage), or None."""
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return "not a CA: it has no basicConstraints extension"
    if not constraints.ca:
        return "not a CA: basicConstraints says CA:FALSE (an endpoint certificate)"
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if not usage.key_cert_sign:
        return "not a CA: its keyUsage lacks keyCertSign"
    return None


def _path_length_problem(path: Sequence[x509.Certificate]) -> str | None:
    """Why a CA may not sit at the foot of this path (an issuer's pathLenConstraint), or None."""
    for depth, issuer in enumerate(path[1:], start=1):
        try:
            constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            continue
        if constraints.path_length is not None and depth > constraints.path_length:
            return (
                f"{_name(issuer)} allows {constraints.path_length} CA(s) beneath it "
                f"(pathLenConstraint) and this would be CA number {depth}"
            )
    return None


def _name(certificate: x509.Certificate) -> str:
    common = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = common[-1].value if common else None
    return value if isinstance(value, str) else certificate.subject.rfc4514_string()


def _valid_at(certificate: x509.Certificate, at: dt.datetime) -> bool:
    return certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc


@attrs.define
class _Proposal:
    """The catalogue being grown, record by record, in catalogue order."""

    cas: list[NhsCa]
    certificates: dict[str, x509.Certificate]
    base: NhsCatalogue

    def catalogue(self) -> NhsCatalogue:
        return NhsCatalogue(
            cas=tuple(self.cas),
            certificates=dict(self.certificates),
            directory=_PROPOSED,
            retired=self.base.retired,
        )

    def slug_for(self, certificate: x509.Certificate, sha256: str) -> str:
        wanted = alias_for(certificate)
        taken = {ca.slug for ca in self.cas} | {ca.slug for ca in self.base.retired}
        return wanted if wanted not in taken else f"{wanted}-{sha256[:8]}"

    def add_beneath(self, issuer: NhsCa, record: NhsCa, certificate: x509.Certificate) -> None:
        """Put ``record`` at the end of its issuer's block (its root, then what that issues)."""
        index = self.cas.index(issuer) + 1
        while index < len(self.cas) and self.cas[index].role != "root":
            index += 1
        self.cas.insert(index, record)
        self.certificates[record.slug] = certificate

    def add_root(self, record: NhsCa, certificate: x509.Certificate) -> None:
        """Put a new root after the last block of its generation that shares an environment."""
        index = len(self.cas)
        for position, ca in enumerate(self.cas):
            if ca.generation is record.generation and set(ca.environments) & set(
                record.environments
            ):
                index = position + 1
        while index < len(self.cas) and self.cas[index].role != "root":
            index += 1
        self.cas.insert(index, record)
        self.certificates[record.slug] = certificate

    def with_file(self, record: NhsCa, certificate: x509.Certificate) -> NhsCa:
        """Give a record pinned only its certificate (its file is named after its slug)."""
        index = self.cas.index(record)
        updated = attrs.evolve(record, file=f"{record.slug}.pem")
        self.cas[index] = updated
        self.certificates[updated.slug] = certificate
        return updated


@attrs.frozen
class _Offer:
    """One certificate offered, with the file it came from and its fingerprint."""

    source: str
    certificate: x509.Certificate
    sha256: str


@attrs.frozen
class _Options:
    pins: frozenset[str]
    environments: tuple[Environment, ...] | None
    generation: Generation | None
    purpose: str | None
    include_expired: bool
    at: dt.datetime


def propose_catalogue_update(
    sources: Iterable[str | os.PathLike[str]],
    *,
    pins: Iterable[str] = (),
    environments: Iterable[Environment | str] | None = None,
    generation: Generation | str | None = None,
    purpose: str | None = None,
    include_expired: bool = False,
    catalogue: NhsCatalogue | None = None,
    at: dt.datetime | None = None,
) -> CatalogueUpdate:
    """Propose a new NHS catalogue from CA certificates downloaded from NHS England.

    Nothing is written: show the result, then :func:`write_catalogue` it.

    Args:
        sources: Files (PEM, DER ``.crt``/``.cer``, PKCS#7, a store) and directories (walked
            recursively; files in them that hold no certificate are passed over).
        pins: Fingerprints of new roots to accept, SHA-256 or the SHA-1 thumbprint NHS
            England publishes (take them from NHS England, not from the file); a root without
            one is refused.
        environments: Which environments a new CA serves, where its issuer serves several
            (a PTL CA: ``int``, ``dep``, ...); it must be among its issuer's. Required for a
            new root.
        generation: A new root's generation (``g1``, ``g2``); intermediates take their issuer's.
        purpose: ``authentication`` or ``signing`` for what is added (default: an issuing
            CA's purpose, or ``authentication`` beneath a root).
        include_expired: Add a genuine CA that is not valid at ``at`` (with a warning in its
            reason) instead of leaving it out.
        catalogue: The catalogue to start from (default: the shipped one).
        at: When validity is judged (default: now).

    Returns:
        The proposal: every change, and the proposed catalogue.

    Raises:
        InputError: A file cannot be read, or none holds a certificate.
        ValueError: A pin that is not 64 hex digits, or an unknown environment or generation.
    """
    options = _Options(
        pins=frozenset(normalise_pin(pin) for pin in pins),
        environments=(
            tuple(dict.fromkeys(Environment(e) for e in environments))
            if environments is not None
            else None
        ),
        generation=Generation(generation) if generation is not None else None,
        purpose=purpose,
        include_expired=include_expired,
        at=at or dt.datetime.now(dt.UTC),
    )
    base = catalogue or nhs_catalogue()
    offered: dict[str, _Offer] = {}
    for source, certificate in _offered(list(sources)):
        sha256 = sha256_fingerprint(certificate)
        offered.setdefault(sha256, _Offer(source, certificate, sha256))
    proposal = _Proposal(list(base.cas), dict(base.certificates), base)
    decided: dict[str, CatalogueChange] = {}
    notes: dict[str, str] = {}
    # Roots (and files for records pinned only) first, then intermediates for as long as
    # one more finds its issuer among what is now in the catalogue.
    for sha256, offer in offered.items():
        change = _decide_known_or_root(proposal, options, offer, notes)
        if change is not None:
            decided[sha256] = change
    progress = True
    while progress:
        progress = False
        for sha256, offer in offered.items():
            if sha256 in decided:
                continue
            change = _decide_intermediate(proposal, options, offer, notes)
            if change is not None:
                decided[sha256] = change
                progress = True
    for sha256, offer in offered.items():
        if sha256 not in decided:
            decided[sha256] = _refuse(offer, _no_chain(proposal, offer.certificate))
    return CatalogueUpdate(
        base=base,
        changes=tuple(decided[sha256] for sha256 in offered),
        catalogue=proposal.catalogue(),
        at=options.at,
        notes=notes,
    )


def _refuse(offer: _Offer, reason: str) -> CatalogueChange:
    subject = offer.certificate.subject.rfc4514_string()
    error = CatalogueUpdateError(
        f"{offer.source}: {subject} refused: {reason}", source=offer.source
    )
    return CatalogueChange(
        CatalogueChangeKind.REFUSED,
        offer.source,
        subject,
        offer.sha256,
        offer.certificate.not_valid_after_utc,
        reason,
        error=error,
    )


def _change(
    kind: CatalogueChangeKind, offer: _Offer, reason: str, *, record: NhsCa | None
) -> CatalogueChange:
    return CatalogueChange(
        kind,
        offer.source,
        offer.certificate.subject.rfc4514_string(),
        offer.sha256,
        offer.certificate.not_valid_after_utc,
        reason,
        record,
    )


def _decide_known_or_root(  # noqa: PLR0911 - one return per rule
    proposal: _Proposal, options: _Options, offer: _Offer, notes: dict[str, str]
) -> CatalogueChange | None:
    """Decide a certificate the catalogue knows by pin, or a root; None for an intermediate."""
    source, certificate, sha256 = offer.source, offer.certificate, offer.sha256
    known = proposal.catalogue().recognise(certificate)
    if known is not None:
        if known.slug in proposal.certificates:
            return _change(
                CatalogueChangeKind.UNCHANGED, offer, "already in the catalogue", record=known
            )
        if not _valid_at(certificate, options.at) and not options.include_expired:
            return _change(
                CatalogueChangeKind.EXPIRED, offer, _expiry(certificate, options), record=known
            )
        record = proposal.with_file(known, certificate)
        notes[record.slug] = (
            f"File added by nhs update {options.at:%Y-%m-%d} from {source}: it matches the pin."
        )
        return _change(
            CatalogueChangeKind.ADDED,
            offer,
            "pinned only until now: its file is added",
            record=record,
        )
    retired = proposal.base.retirement_of(sha256)
    if retired is not None:
        reason = f"a retired NHS CA ({retired.name}: {retired.why}), never added"
        return _refuse(offer, reason)
    problem = _ca_problem(certificate)
    if problem is not None:
        return _refuse(offer, problem)
    if not is_self_signed(certificate):
        return None
    sha1 = hashlib.sha1(certificate.public_bytes(Encoding.DER)).hexdigest()  # noqa: S324 - a pin
    if sha256 not in options.pins and sha1 not in options.pins:
        return _refuse(offer, _unpinned_root(proposal, certificate, sha256, sha1))
    if not options.environments or options.generation is None:
        reason = "a new root, pinned: say which environments (--env) and generation (--generation) it serves"
        return _refuse(offer, reason)
    if not _valid_at(certificate, options.at) and not options.include_expired:
        return _change(
            CatalogueChangeKind.EXPIRED, offer, _expiry(certificate, options), record=None
        )
    record = NhsCa(
        slug=proposal.slug_for(certificate, sha256),
        name=_name(certificate),
        environments=options.environments,
        generation=options.generation,
        role="root",
        purpose=options.purpose or "authentication",
        sha256=sha256,
        file=None,
    )
    record = attrs.evolve(record, file=f"{record.slug}.pem")
    proposal.add_root(record, certificate)
    notes[record.slug] = (
        f"Added by nhs update {options.at:%Y-%m-%d} from {source}: a root pinned by the user."
    )
    return _change(
        CatalogueChangeKind.ADDED,
        offer,
        f"a new root, pinned by you ({_where(record)})",
        record=record,
    )


def _unpinned_root(
    proposal: _Proposal, certificate: x509.Certificate, sha256: str, sha1: str
) -> str:
    """Why a root nobody pinned is refused: a look-alike of a pinned root, or unknown."""
    claimed = proposal.catalogue().claimed_by(certificate.subject)
    if claimed is not None:
        return (
            f"carries the subject of {claimed.name} without its pin: not that root "
            "(forged, or a re-issue NHS England would publish a fingerprint for)"
        )
    return (
        "an unknown root: a root is added only with a pin you take from NHS England; "
        f"compare its SHA-256 {sha256} (SHA-1 {sha1}) with the one NHS England "
        "publishes, then give it with --pin"
    )


def _where(record: NhsCa) -> str:
    return f"{','.join(e.value for e in record.environments)} {record.generation.value}"


def _expiry(certificate: x509.Certificate, options: _Options) -> str:
    if options.at < certificate.not_valid_before_utc:
        state = f"not valid until {certificate.not_valid_before_utc:%Y-%m-%d}"
    else:
        state = f"expired {certificate.not_valid_after_utc:%Y-%m-%d}"
    return f"{state}: left out (include it with --include-expired)"


def _decide_intermediate(  # noqa: PLR0911 - one return per rule
    proposal: _Proposal, options: _Options, offer: _Offer, notes: dict[str, str]
) -> CatalogueChange | None:
    """Decide a CA whose chain reaches a pinned root; None while its issuer is not in yet."""
    source, certificate, sha256 = offer.source, offer.certificate, offer.sha256
    catalogue = proposal.catalogue()
    path, missing = issuer_path(certificate, list(proposal.certificates.values()))
    if missing is not None or len(path) < 2 or not is_self_signed(path[-1]):  # noqa: PLR2004
        return None
    issuer = catalogue.recognise(path[1])
    root = catalogue.recognise(path[-1])
    if issuer is None or root is None or root.role != "root":
        return None
    problem = _path_length_problem(path)
    if problem is not None:
        return _refuse(offer, problem)
    chain = (
        f"signature verified, chain to {_name(path[-1])}"
        if len(path) > 2  # noqa: PLR2004 - beneath an intermediate
        else "signature verified"
    )
    environments: tuple[Environment, ...]
    if options.environments is None:
        if len(issuer.environments) != 1:
            served = ",".join(e.value for e in issuer.environments)
            reason = (
                f"issued by {issuer.name} (signature verified), which serves {served}: "
                "say which with --env"
            )
            return _refuse(offer, reason)
        environments = issuer.environments
    else:
        environments = tuple(e for e in options.environments if e in issuer.environments)
        if not environments:
            served = ",".join(e.value for e in issuer.environments)
            asked = ",".join(e.value for e in options.environments)
            reason = f"issued by {issuer.name}, which serves {served}, not --env {asked}"
            return _refuse(offer, reason)
    record = NhsCa(
        slug=proposal.slug_for(certificate, sha256),
        name=_name(certificate),
        environments=environments,
        generation=root.generation,
        role="intermediate",
        purpose=options.purpose or (issuer.purpose if issuer.role != "root" else "authentication"),
        sha256=sha256,
    )
    record = attrs.evolve(record, file=f"{record.slug}.pem")
    reason = f"issued by {issuer.name} ({chain}); {_where(record)}"
    if not _valid_at(certificate, options.at):
        if not options.include_expired:
            return _change(
                CatalogueChangeKind.EXPIRED, offer, _expiry(certificate, options), record=record
            )
        reason += f"; warning: {_expiry(certificate, options).split(':')[0]}, added as asked"
    proposal.add_beneath(issuer, record, certificate)
    notes[record.slug] = f"Added by nhs update {options.at:%Y-%m-%d} from {source}: {reason}."
    return _change(CatalogueChangeKind.ADDED, offer, reason, record=record)


def _no_chain(proposal: _Proposal, certificate: x509.Certificate) -> str:
    """Why a CA's chain reaches no pinned NHS root, as specifically as can be said."""
    catalogue = proposal.catalogue()
    named = [c for c in proposal.certificates.values() if c.subject == certificate.issuer]
    claimed = catalogue.claimed_by(certificate.subject)
    impostor = f"; it carries the subject of {claimed.name} without its pin" if claimed else ""
    if named:
        return (
            f"forged or damaged: its issuer name is {_name(named[0])}'s, but that key did not "
            f"make its signature{impostor}"
        )
    return (
        f"its issuer {certificate.issuer.rfc4514_string()} is no pinned NHS CA in the "
        f"catalogue (add the issuer's certificate too, or pin a new root with --pin){impostor}"
    )


def write_catalogue(
    update: CatalogueUpdate, directory: str | os.PathLike[str], *, overwrite: bool = False
) -> NhsCatalogue:
    """Write a proposal as a user catalogue directory, and return it as loaded from there.

    The directory holds ``manifest.toml`` (every record with its pin, the retired CAs, and a
    comment on each added record saying where it came from) and one PEM file per certificate.
    Use it with ``--catalogue DIR`` or ``builder.with_catalogue(load_nhs_catalogue(DIR))``.

    Raises:
        CatalogueUpdateError: A certificate was refused (nothing is written).
        OutputExistsError: ``directory`` exists and is not empty, without ``overwrite``.
    """
    update.raise_for_refused()
    added = ", ".join(change.record.slug for change in update.added if change.record) or "none"
    header = (
        f"A user NHS catalogue written by truststore-builder nhs update on {update.at:%Y-%m-%d}\n"
        f"from the catalogue at {update.base.directory}; added: {added}.\n"
        "Every file is checked against its pin when this catalogue is loaded. See the shipped\n"
        "bundles/manifest.toml for where the shipped certificates come from.\n"
        "Fields: slug, name, environments, generation, role, purpose, sha256 or sha1, file."
    )
    return write_nhs_catalogue(
        update.catalogue, Path(directory), overwrite=overwrite, header=header, notes=update.notes
    )
