"""Compare two stores (the review step before a new store replaces an old one) and find what expires first.

:func:`diff_stores` matches certificate entries by SHA-256 fingerprint, whatever the two files'
formats: a PEM bundle and a JKS holding the same certificates compare equal. Key entries are
compared by alias, then by public key, and a store's single key entry replaced by another is
reported as a change of that entry. No value here holds a private key: a key entry is described
by its certificate and the SHA-256 of its public key.

:func:`expiry_horizon` tells which entry of a store expires first, and which expire within a
window, so that a deployment can fail ahead of an expiry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import attrs
from cryptography import x509

from truststore_builder._checks import days_left, nhs_issuer, utc_now
from truststore_builder._errors import MissingPasswordError, WrongPasswordError
from truststore_builder._model import (
    Generation,
    NhsCa,
    RetiredCa,
    StoreEntry,
    TrustedEntry,
    sha256_fingerprint,
    spki_der,
)
from truststore_builder._report import (
    Cell,
    aligned_lines,
    html_box,
    html_heading,
    html_table,
    printable,
    retired_line,
)
from truststore_builder._sources.files import read_identities, read_store
from truststore_builder._sources.nhs import nhs_catalogue
from truststore_builder._stores import KeyStore, TrustStore

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

    from truststore_builder._sources.nhs import NhsCatalogue

__all__ = [
    "DiffEntry",
    "Horizon",
    "HorizonEntry",
    "KeptEntry",
    "KeyEntry",
    "KeyEntryChange",
    "StoreDiff",
    "diff_html",
    "diff_stores",
    "diff_text",
    "expiry_horizon",
    "horizon_line",
]

#: What :func:`diff_stores` compares: a store file (or directory), or a built store.
StoreLike = str | os.PathLike[str] | TrustStore | KeyStore
#: The default window of :func:`expiry_horizon`, in days.
DEFAULT_WITHIN_DAYS = 90


# --- values -----------------------------------------------------------------------------------


@attrs.frozen
class DiffEntry:
    """A certificate entry of one side of a diff, with what the NHS catalogue knows of it.

    Attributes:
        alias: The alias in the store, or "" where the format has none (DER, PKCS#7, a PEM
            block without an ``# Alias:`` header line).
        sha256: SHA-256 fingerprint, lower-case hex: what entries are matched by.
        subject: The subject, RFC 4514.
        not_after: End of validity, UTC.
        expired: Whether ``not_after`` lies before the diff's time.
        nhs: The NHS catalogue's record, when it recognises the certificate.
        trusted: Whether the store marks it trusted (Java's trustedCertEntry; always for PEM).
        certificate: The certificate itself.
        retired: The catalogue's record when it is a retired CA, which a store can go without.
    """

    alias: str
    sha256: str
    subject: str
    not_after: dt.datetime
    expired: bool
    nhs: NhsCa | None = None
    trusted: bool = True
    certificate: x509.Certificate | None = attrs.field(default=None, repr=False, eq=False)
    retired: RetiredCa | None = None

    @property
    def nhs_name(self) -> str | None:
        """The NHS name (``NHS Authentication G2``), when the catalogue knows the certificate."""
        return self.nhs.name if self.nhs else None

    @property
    def generation(self) -> Generation | None:
        """G1 or G2, when the catalogue knows the certificate."""
        return self.nhs.generation if self.nhs else None

    def to_dict(self) -> dict[str, object]:
        """The entry as JSON-ready values."""
        return {
            "alias": self.alias,
            "sha256": self.sha256,
            "subject": self.subject,
            "not_after": self.not_after.isoformat(),
            "expired": self.expired,
            "nhs_name": self.nhs_name,
            "nhs_generation": self.generation.value if self.generation else None,
            "trusted": self.trusted,
            "retired": self.retired.name if self.retired else None,
        }


@attrs.frozen
class KeptEntry:
    """A certificate both stores hold, with how its entry changed (alias, trust flag).

    Attributes:
        old: The entry in the old store.
        new: The entry in the new store.
        compare_aliases: Whether an alias change counts as a difference.
    """

    old: DiffEntry
    new: DiffEntry
    compare_aliases: bool = True

    @property
    def alias_changed(self) -> bool:
        """Both stores name the entry, differently (case-insensitive, as Java's stores are).

        An entry without an alias on either side (DER, PKCS#7, a PEM block without an
        ``# Alias:`` header line) changes no alias.
        """
        return bool(
            self.compare_aliases
            and self.old.alias
            and self.new.alias
            and self.old.alias.lower() != self.new.alias.lower()
        )

    @property
    def trusted_changed(self) -> bool:
        """One store marks the certificate trusted and the other does not."""
        return self.old.trusted != self.new.trusted

    @property
    def changed(self) -> bool:
        """Whether the alias or the trust flag changed."""
        return self.alias_changed or self.trusted_changed

    def to_dict(self) -> dict[str, object]:
        """The entry (as in the new store) with its old alias and what changed."""
        return {
            **self.new.to_dict(),
            "old_alias": self.old.alias,
            "old_trusted": self.old.trusted,
            "alias_changed": self.alias_changed,
            "trusted_changed": self.trusted_changed,
        }


@attrs.frozen
class KeyEntry:
    """A private key entry, described without its key: certificate, chain and public key hash.

    Attributes:
        alias: The key entry's alias.
        sha256: SHA-256 fingerprint of its (leaf) certificate.
        public_key_sha256: SHA-256 of the public key (SubjectPublicKeyInfo DER).
        subject: The certificate's subject, RFC 4514.
        not_after: The certificate's end of validity, UTC.
        expired: Whether ``not_after`` lies before the diff's time.
        issuer_nhs: The NHS CA that issued it, when the catalogue recognises the issuer.
        chain: Fingerprints of the chain stored with it, leaf first.
    """

    alias: str
    sha256: str
    public_key_sha256: str
    subject: str
    not_after: dt.datetime
    expired: bool
    issuer_nhs: NhsCa | None = None
    chain: tuple[str, ...] = ()

    @property
    def generation(self) -> Generation | None:
        """The issuer's NHS generation, when the catalogue recognises it."""
        return self.issuer_nhs.generation if self.issuer_nhs else None

    def to_dict(self) -> dict[str, object]:
        """The key entry as JSON-ready values (no key material)."""
        return {
            "alias": self.alias,
            "sha256": self.sha256,
            "public_key_sha256": self.public_key_sha256,
            "subject": self.subject,
            "not_after": self.not_after.isoformat(),
            "expired": self.expired,
            "issuer_nhs_name": self.issuer_nhs.name if self.issuer_nhs else None,
            "nhs_generation": self.generation.value if self.generation else None,
            "chain": list(self.chain),
        }


@attrs.frozen
class KeyEntryChange:
    """One key entry compared across the two stores.

    Attributes:
        old: The entry in the old store, or None when it was added.
        new: The entry in the new store, or None when it was removed.
    """

    old: KeyEntry | None
    new: KeyEntry | None

    @property
    def kind(self) -> Literal["added", "removed", "changed", "unchanged"]:
        """``added``, ``removed``, ``changed`` or ``unchanged``."""
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        changed = (
            self.certificate_changed or self.key_changed or self.chain_changed or self.alias_changed
        )
        return "changed" if changed else "unchanged"

    @property
    def alias(self) -> str:
        """The alias in the new store (in the old one for a removed entry)."""
        entry = self.new or self.old
        assert entry is not None  # one side is always set
        return entry.alias

    def _both(self) -> tuple[KeyEntry, KeyEntry] | None:
        if self.old is None or self.new is None:
            return None
        return self.old, self.new

    @property
    def certificate_changed(self) -> bool:
        """The entry's certificate is another one."""
        both = self._both()
        return both is not None and both[0].sha256 != both[1].sha256

    @property
    def key_changed(self) -> bool:
        """The entry's key pair is another one (a renewed certificate may keep its key)."""
        both = self._both()
        return both is not None and both[0].public_key_sha256 != both[1].public_key_sha256

    @property
    def chain_changed(self) -> bool:
        """The chain stored with the entry differs."""
        both = self._both()
        return both is not None and both[0].chain != both[1].chain

    @property
    def alias_changed(self) -> bool:
        """The entry was renamed (case-insensitive)."""
        both = self._both()
        return both is not None and both[0].alias.lower() != both[1].alias.lower()

    def to_dict(self) -> dict[str, object]:
        """The comparison as JSON-ready values (no key material)."""
        return {
            "alias": self.alias,
            "kind": self.kind,
            "certificate_changed": self.certificate_changed,
            "key_changed": self.key_changed,
            "chain_changed": self.chain_changed,
            "alias_changed": self.alias_changed,
            "old": self.old.to_dict() if self.old else None,
            "new": self.new.to_dict() if self.new else None,
        }


@attrs.frozen
class StoreDiff:
    """What differs between two stores: certificate entries by fingerprint, and key entries.

    Order of entries within a store is not compared. Attributes:
        old_source: The old store's file (or ``<TrustStore>``, ``<KeyStore>``).
        new_source: The new store's file.
        at: The time expiry was judged at.
        added: Certificates only the new store holds, in its order.
        removed: Certificates only the old store holds, in its order.
        kept: Certificates both hold, in the new store's order.
        key_entries: Every key entry of either store, compared (unchanged ones included).
    """

    old_source: str
    new_source: str
    at: dt.datetime = attrs.field(kw_only=True)
    added: tuple[DiffEntry, ...] = ()
    removed: tuple[DiffEntry, ...] = ()
    kept: tuple[KeptEntry, ...] = ()
    key_entries: tuple[KeyEntryChange, ...] = ()

    @property
    def changed(self) -> tuple[KeptEntry, ...]:
        """Kept certificates whose entry changed (alias or trust flag)."""
        return tuple(k for k in self.kept if k.changed)

    @property
    def key_changes(self) -> tuple[KeyEntryChange, ...]:
        """Key entries added, removed or changed."""
        return tuple(k for k in self.key_entries if k.kind != "unchanged")

    @property
    def equal(self) -> bool:
        """Whether the stores hold the same entries (same trust, aliases, key entries)."""
        return not (self.added or self.removed or self.changed or self.key_changes)

    def __bool__(self) -> bool:
        """True when the stores differ, as ``diff`` exits non-zero."""
        return not self.equal

    def __str__(self) -> str:
        """The diff as text: one line per added, removed and changed entry, then a summary."""
        return diff_text(self, show_kept=True)

    def __repr__(self) -> str:
        """A one-line summary: equal or not, and how many entries were added, removed, kept."""
        state = "equal" if self.equal else "differ"
        return (
            f"<StoreDiff {state}: {len(self.added)} added, {len(self.removed)} removed, "
            f"{len(self.kept)} kept, {len(self.key_changes)} key entry changes>"
        )

    def _repr_html_(self) -> str:
        """The diff as tables, for Jupyter: added, removed and changed entries tinted."""
        return diff_html(self)

    def to_dict(self) -> dict[str, object]:
        """The diff as JSON-ready values."""
        return {
            "old": self.old_source,
            "new": self.new_source,
            "at": self.at.isoformat(),
            "equal": self.equal,
            "added": [e.to_dict() for e in self.added],
            "removed": [e.to_dict() for e in self.removed],
            "kept": [k.to_dict() for k in self.kept],
            "key_entries": [k.to_dict() for k in self.key_entries],
        }


# --- reading a side ---------------------------------------------------------------------------


@attrs.frozen
class _Side:
    source: str
    entries: tuple[DiffEntry, ...]
    keys: tuple[KeyEntry, ...]


def _diff_entry(
    alias: str,
    certificate: x509.Certificate,
    *,
    trusted: bool,
    nhs: NhsCa | None,
    at: dt.datetime,
    catalogue: NhsCatalogue,
) -> DiffEntry:
    not_after = certificate.not_valid_after_utc
    sha256 = sha256_fingerprint(certificate)
    return DiffEntry(
        alias=alias,
        sha256=sha256,
        subject=certificate.subject.rfc4514_string(),
        not_after=not_after,
        expired=at > not_after,
        nhs=nhs,
        trusted=trusted,
        certificate=certificate,
        retired=catalogue.retirement_of(sha256),
    )


def _key_entry(
    alias: str,
    public_key: PublicKeyTypes,
    chain: Sequence[x509.Certificate],
    catalogue: NhsCatalogue,
    at: dt.datetime,
) -> KeyEntry:
    leaf = chain[0]
    return KeyEntry(
        alias=alias,
        sha256=sha256_fingerprint(leaf),
        public_key_sha256=hashlib.sha256(spki_der(public_key)).hexdigest(),
        subject=leaf.subject.rfc4514_string(),
        not_after=leaf.not_valid_after_utc,
        expired=at > leaf.not_valid_after_utc,
        issuer_nhs=nhs_issuer(chain[0], chain[1:], catalogue),
        chain=tuple(sha256_fingerprint(c) for c in chain),
    )


def _from_store_entries(
    entries: Sequence[StoreEntry],
    keys: Sequence[KeyEntry],
    catalogue: NhsCatalogue,
    at: dt.datetime,
) -> tuple[DiffEntry, ...]:
    """One entry per fingerprint: trusted entries, and untrusted ones outside every key chain."""
    in_chains = {fingerprint for key in keys for fingerprint in key.chain}
    chosen: dict[str, StoreEntry] = {}
    for entry in entries:
        fingerprint = sha256_fingerprint(entry.certificate)
        if not entry.trusted and fingerprint in in_chains:
            continue
        first = chosen.get(fingerprint)
        if first is None or (entry.trusted and not first.trusted):
            chosen[fingerprint] = entry
    return tuple(
        _diff_entry(
            e.alias,
            e.certificate,
            trusted=e.trusted,
            nhs=catalogue.recognise(e.certificate),
            at=at,
            catalogue=catalogue,
        )
        for e in chosen.values()
    )


def _read_path(
    path: Path, password: str | bytes | None, catalogue: NhsCatalogue, at: dt.datetime
) -> _Side:
    entries = read_store(path, password=password)
    keys: list[KeyEntry] = []
    if path.is_file() and any(not e.trusted for e in entries):
        # Untrusted certificates come from PKCS#12 or JKS: key entry chains, or loose ones.
        try:
            found = read_identities(path, password=password or "")
        except WrongPasswordError:
            if password:
                raise
            msg = (
                f"{path}: holds private key entries (or untrusted certificates); give its "
                "password to compare them"
            )
            raise MissingPasswordError(msg, source=str(path)) from None
        keys.extend(
            _key_entry(alias, key.public_key(), chain, catalogue, at)
            for alias, key, chain in found
            if chain
        )
    return _Side(
        source=str(path),
        entries=_from_store_entries(entries, keys, catalogue, at),
        keys=tuple(keys),
    )


def _from_truststore(
    store: TrustStore, catalogue: NhsCatalogue, at: dt.datetime
) -> tuple[DiffEntry, ...]:
    return tuple(
        _diff_entry(
            e.alias,
            e.certificate,
            trusted=True,
            nhs=e.nhs or catalogue.recognise(e.certificate),
            at=at,
            catalogue=catalogue,
        )
        for e in _unique(store.entries)
    )


def _unique(entries: Iterable[TrustedEntry]) -> list[TrustedEntry]:
    seen: dict[str, TrustedEntry] = {}
    for entry in entries:
        seen.setdefault(entry.sha256, entry)
    return list(seen.values())


def _read_side(
    side: StoreLike,
    password: str | bytes | None,
    catalogue: NhsCatalogue,
    at: dt.datetime,
) -> _Side:
    if isinstance(side, TrustStore):
        source = "<TrustStore>"
        return _Side(source, _from_truststore(side, catalogue, at), ())
    if isinstance(side, KeyStore):
        source = "<KeyStore>"
        key = _key_entry(side.alias, side.identity.key.public_key(), side.chain, catalogue, at)
        return _Side(source, _from_truststore(side.trust_store, catalogue, at), (key,))
    return _read_path(Path(side), password, catalogue, at)


# --- comparing --------------------------------------------------------------------------------


def _match_keys(old: Sequence[KeyEntry], new: Sequence[KeyEntry]) -> tuple[KeyEntryChange, ...]:
    """Pair key entries: by alias, then by public key, then a lone entry on each side."""
    pairs: list[tuple[KeyEntry | None, KeyEntry | None]] = []
    old_left = list(old)
    new_left: list[KeyEntry] = []
    for entry in new:
        match = next((o for o in old_left if o.alias.lower() == entry.alias.lower()), None)
        if match is None:
            new_left.append(entry)
            continue
        old_left.remove(match)
        pairs.append((match, entry))
    for entry in list(new_left):
        match = next((o for o in old_left if o.public_key_sha256 == entry.public_key_sha256), None)
        if match is not None:
            old_left.remove(match)
            new_left.remove(entry)
            pairs.append((match, entry))
    if len(old_left) == 1 and len(new_left) == 1:
        # A store's one key entry replaced by another (a G1 identity by its G2 successor).
        pairs.append((old_left.pop(), new_left.pop()))
    pairs += [(o, None) for o in old_left]
    pairs += [(None, n) for n in new_left]
    return tuple(KeyEntryChange(old=o, new=n) for o, n in pairs)


def diff_stores(
    old: StoreLike,
    new: StoreLike,
    *,
    old_password: str | bytes | None = None,
    new_password: str | bytes | None = None,
    at: dt.datetime | None = None,
    compare_aliases: bool = True,
    catalogue: NhsCatalogue | None = None,
) -> StoreDiff:
    """Compare two stores: the review step before a new store replaces an old one.

    Certificate entries are matched by SHA-256 fingerprint, so a store in one format compares
    equal to the same certificates in another (a PEM bundle and a JKS trust store). Key entries
    of PKCS#12 and JKS key stores are matched by alias, then by public key; a store's single
    key entry replaced by one of another alias counts as that entry changed.

    The stores are equal when neither adds or removes a certificate, no kept certificate changes
    its trust flag or (with ``compare_aliases``) its alias where both sides have one (a PEM
    certificate has one when an ``# Alias:`` header line names it), and every key entry keeps
    its certificate, key, chain and alias. Entry order is not compared.

    Args:
        old: The store in use: a file in any format :func:`read_store` reads, a directory, or
            a built :class:`TrustStore` or :class:`KeyStore`.
        new: The store to replace it.
        old_password: The old store's password (PKCS#12, JKS, JCEKS). Needed to compare key
            entries: their keys are decrypted to compare public keys, then dropped.
        new_password: The new store's password.
        at: The time expiry is judged at (default: now).
        compare_aliases: Count an alias change as a difference (default). Aliases matter to
            Java code that looks an entry up by name.
        catalogue: The NHS catalogue that names the certificates (default: the shipped one).

    Returns:
        The differences; ``diff.equal`` tells whether there are none.

    Raises:
        InputError: A store cannot be read (unknown format, malformed, wrong or missing
            password).
    """
    when = at or utc_now()
    names = catalogue or nhs_catalogue()
    before = _read_side(old, old_password, names, when)
    after = _read_side(new, new_password, names, when)
    old_by_fingerprint = {e.sha256: e for e in before.entries}
    new_fingerprints = {e.sha256 for e in after.entries}
    return StoreDiff(
        old_source=before.source,
        new_source=after.source,
        at=when,
        added=tuple(e for e in after.entries if e.sha256 not in old_by_fingerprint),
        removed=tuple(e for e in before.entries if e.sha256 not in new_fingerprints),
        kept=tuple(
            KeptEntry(old_by_fingerprint[e.sha256], e, compare_aliases=compare_aliases)
            for e in after.entries
            if e.sha256 in old_by_fingerprint
        ),
        key_entries=_match_keys(before.keys, after.keys),
    )


# --- expiry horizon ---------------------------------------------------------------------------


@attrs.frozen
class HorizonEntry:
    """An entry and how long it has left.

    Attributes:
        alias: Its alias ("" where the format has none).
        name: Its NHS name where the catalogue knows it, else its subject.
        sha256: SHA-256 fingerprint.
        not_after: End of validity, UTC.
        days_left: Whole days from the horizon's time to ``not_after``; for an expired entry,
            minus the whole days since it expired (0 on the day it expired).
        expired: Whether ``not_after`` lies before the horizon's time.
    """

    alias: str
    name: str
    sha256: str
    not_after: dt.datetime
    days_left: int
    expired: bool

    @property
    def label(self) -> str:
        """The name, then the alias where the store has one: ``NHS Level 1C [alias nhs-level-1c]``."""
        return f"{self.name} [alias {self.alias}]" if self.alias else self.name

    def to_dict(self) -> dict[str, object]:
        """The entry as JSON-ready values."""
        return {
            "alias": self.alias,
            "name": self.name,
            "sha256": self.sha256,
            "not_after": self.not_after.isoformat(),
            "days_left": self.days_left,
            "expired": self.expired,
        }


@attrs.frozen
class Horizon:
    """What in a store expires first, and what expires within a window.

    Attributes:
        at: The time judged at.
        within_days: The window, in days.
        first: The entry that expires first (already expired ones count as past), or None for
            no entries.
        within: Every entry that expires within the window, expired ones included, soonest
            first.
    """

    at: dt.datetime = attrs.field(kw_only=True)
    within_days: int
    first: HorizonEntry | None
    within: tuple[HorizonEntry, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether nothing expires within the window."""
        return not self.within

    def __str__(self) -> str:
        """The one-line summary ``expires first: ALIAS on DATE (in N days)``."""
        return horizon_line(self)

    def to_dict(self) -> dict[str, object]:
        """The horizon as JSON-ready values."""
        return {
            "at": self.at.isoformat(),
            "within_days": self.within_days,
            "ok": self.ok,
            "first": self.first.to_dict() if self.first else None,
            "within": [e.to_dict() for e in self.within],
        }


def _horizon_entry(
    item: StoreEntry | TrustedEntry | x509.Certificate,
    catalogue: NhsCatalogue,
    at: dt.datetime,
) -> HorizonEntry:
    if isinstance(item, x509.Certificate):
        alias, certificate, nhs = "", item, None
    else:
        alias, certificate = item.alias, item.certificate
        nhs = item.nhs if isinstance(item, TrustedEntry) else None
    nhs = nhs or catalogue.recognise(certificate)
    not_after = certificate.not_valid_after_utc
    return HorizonEntry(
        alias=alias,
        name=nhs.name if nhs else certificate.subject.rfc4514_string(),
        sha256=sha256_fingerprint(certificate),
        not_after=not_after,
        days_left=days_left(not_after, at),
        expired=at > not_after,
    )


def expiry_horizon(
    entries: Iterable[StoreEntry | TrustedEntry | x509.Certificate] | TrustStore | KeyStore,
    *,
    at: dt.datetime | None = None,
    within_days: int = DEFAULT_WITHIN_DAYS,
    catalogue: NhsCatalogue | None = None,
) -> Horizon:
    """Find what expires first, and everything that expires within ``within_days``.

    Args:
        entries: Store entries (as :func:`read_store` gives), trust store entries,
            certificates, or a built :class:`TrustStore` or :class:`KeyStore` (its trusted
            entries and its client certificate).
        at: The time to judge at (default: now).
        within_days: The window: an entry whose end of validity falls before ``at`` plus this
            many days is listed in ``within`` (expired entries always are).
        catalogue: The NHS catalogue that names the certificates (default: the shipped one).

    Returns:
        The horizon; ``horizon.ok`` is false when anything expires within the window.

    Raises:
        ValueError: ``within_days`` is negative.
    """
    if within_days < 0:
        msg = f"within_days must be 0 or more, not {within_days}"
        raise ValueError(msg)
    when = at or utc_now()
    names = catalogue or nhs_catalogue()
    items: list[StoreEntry | TrustedEntry | x509.Certificate]
    if isinstance(entries, KeyStore):
        items = [
            StoreEntry(
                alias=entries.alias, certificate=entries.identity.certificate, trusted=False
            ),
            *entries.trust_store.entries,
        ]
    else:
        items = list(entries)
    unique: dict[str, HorizonEntry] = {}
    for item in items:
        found = _horizon_entry(item, names, when)
        unique.setdefault(found.sha256, found)
    ordered = sorted(unique.values(), key=lambda e: (e.not_after, e.label))
    limit = when + dt.timedelta(days=within_days)
    return Horizon(
        at=when,
        within_days=within_days,
        first=ordered[0] if ordered else None,
        within=tuple(e for e in ordered if e.not_after < limit),
    )


# --- the views: text and HTML (moved here from _report, which renders values only) ---------


def _known(nhs_name: str | None, generation: str | None) -> str:
    return f"({nhs_name}, {generation})" if nhs_name else ""


def _until(not_after: dt.datetime, *, expired: bool) -> str:
    return f"not after {not_after:%Y-%m-%d}" + (" (expired)" if expired else "")


def _retired_note(marker: str, entry: DiffEntry) -> str:
    if entry.retired is None:
        return ""
    return "retired CA: fine to remove" if marker == "-" else "retired CA: can go"


def _diff_row(marker: str, entry: DiffEntry, note: str = "") -> tuple[str, ...]:
    generation = entry.generation.value if entry.generation else None
    return (
        marker,
        entry.alias or "-",
        entry.subject,
        _known(entry.nhs_name, generation),
        _until(entry.not_after, expired=entry.expired),
        "; ".join(part for part in (note, _retired_note(marker, entry)) if part),
    )


def _key_text(entry: KeyEntry) -> str:
    issuer = entry.issuer_nhs
    known = f" (issued by {issuer.name}, {issuer.generation.value})" if issuer else ""
    return f"{entry.subject}{known} {_until(entry.not_after, expired=entry.expired)}"


def _key_line(change: KeyEntryChange) -> str:
    if change.new is None:
        assert change.old is not None
        return f"- key entry {change.alias}: {_key_text(change.old)}"
    if change.old is None:
        return f"+ key entry {change.alias}: {_key_text(change.new)}"
    if change.kind == "unchanged":
        return f"= key entry {change.alias}: {_key_text(change.new)}"
    what = [
        label
        for label, flag in (
            (f"renamed from {change.old.alias}", change.alias_changed),
            ("certificate changed", change.certificate_changed),
            ("key changed", change.key_changed),
            ("chain changed", change.chain_changed),
        )
        if flag
    ]
    if change.certificate_changed:
        detail = f"was {_key_text(change.old)}; now {_key_text(change.new)}"
    else:
        detail = _key_text(change.new)
    return f"~ key entry {change.alias}: {', '.join(what)}; {detail}"


def diff_text(diff: StoreDiff, *, show_kept: bool = False) -> str:
    """The diff for people: ``+``/``-``/``~`` lines (``=`` for kept ones too), then a summary.

    Args:
        diff: The diff.
        show_kept: Also list the certificates and key entries that did not change.
    """
    rows: list[tuple[str, ...]] = [_diff_row("+", e) for e in diff.added]
    rows += [_diff_row("-", e) for e in diff.removed]
    for kept in diff.kept:
        if kept.changed:
            notes = []
            if kept.alias_changed:
                notes.append(f"alias was {kept.old.alias}")
            if kept.trusted_changed:
                notes.append("now trusted" if kept.new.trusted else "no longer trusted")
            rows.append(_diff_row("~", kept.new, "; ".join(notes)))
        elif show_kept:
            rows.append(_diff_row("=", kept.new))
    lines = [f"--- {diff.old_source}", f"+++ {diff.new_source}"]
    aligned = aligned_lines([row[1:] for row in rows])
    lines += [f"{row[0]} {line}" for row, line in zip(rows, aligned, strict=True)]
    lines += [
        _key_line(change) for change in diff.key_entries if show_kept or change.kind != "unchanged"
    ]
    summary = f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.kept)} kept"
    if diff.changed:
        summary += f" ({len(diff.changed)} changed)"
    if diff.key_entries:
        counts = {
            kind: sum(1 for c in diff.key_entries if c.kind == kind)
            for kind in ("added", "removed", "changed", "unchanged")
        }
        summary += "; key entries: " + ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
    lines += [
        retired_line(entry.alias or entry.retired.name, entry.retired)
        for entry in (*diff.added, *(kept.new for kept in diff.kept))
        if entry.retired is not None
    ]
    verdict = "stores are equal" if diff.equal else "stores differ"
    lines.append(f"{verdict}: {summary}")
    return "\n".join(printable(line) for line in lines)


def horizon_line(horizon: Horizon) -> str:
    """``expires first: ALIAS on DATE (in N days)`` (or ``(expired N days ago)``)."""
    first = horizon.first
    if first is None:
        return "expires first: nothing (no entries)"
    days = abs(first.days_left)
    plural = "day" if days == 1 else "days"
    when = f"expired {days} {plural} ago" if first.expired else f"in {days} {plural}"
    return printable(f"expires first: {first.label} on {first.not_after:%Y-%m-%d} ({when})")


def diff_html(diff: StoreDiff) -> str:
    """A store diff as HTML: one table of certificate entries, one of key entries, a verdict."""
    rows: list[list[str | Cell]] = []
    marks: list[str | None] = []

    def entry_row(sign: str, entry: DiffEntry, note: str = "") -> list[str | Cell]:
        generation = entry.generation.value if entry.generation else "-"
        return [
            sign,
            entry.alias or "-",
            Cell(entry.nhs_name or entry.subject, title=entry.subject),
            generation,
            Cell(f"{entry.not_after:%Y-%m-%d}", mono=True),
            "expired" if entry.expired else "",
            "; ".join(part for part in (note, _retired_note(sign, entry)) if part),
        ]

    for entry in diff.added:
        rows.append(entry_row("+", entry))
        marks.append("added")
    for entry in diff.removed:
        rows.append(entry_row("-", entry))
        marks.append("removed")
    for kept in diff.kept:
        notes = []
        if kept.alias_changed:
            notes.append(f"alias was {kept.old.alias}")
        if kept.trusted_changed:
            notes.append("trust changed")
        rows.append(entry_row("~" if notes else "=", kept.new, "; ".join(notes)))
        marks.append("changed" if notes else None)
    parts = [
        html_heading(f"{diff.old_source} → {diff.new_source}"),
        html_table(
            ["", "alias", "name", "gen", "not after", "status", "change"],
            rows,
            marks,
            caption=f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.kept)} kept",
        ),
    ]
    if diff.key_entries:
        key_rows: list[list[str | Cell]] = [
            [
                change.kind,
                change.alias,
                _key_entry_subject(change),
            ]
            for change in diff.key_entries
        ]
        key_marks = [
            {"added": "added", "removed": "removed", "changed": "changed"}.get(change.kind)
            for change in diff.key_entries
        ]
        parts.append(html_table(["key entry", "alias", "subject"], key_rows, key_marks))
    parts.append(html_heading("stores are equal" if diff.equal else "stores differ"))
    return html_box(*parts)


def _key_entry_subject(change: KeyEntryChange) -> str:
    entry = change.new or change.old
    return entry.subject if entry is not None else ""
