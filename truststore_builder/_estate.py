"""A supplier's whole estate: every store under some paths, what it holds and when it expires.

:func:`scan_estate` reads every store file under the paths it is given (directories
recursively), each with the password a :class:`PasswordMap` names for it, and reports each
store: its certificates and key entries, what expires first, retired NHS CAs (which can go),
impostor NHS CAs (an NHS CA's subject over another key), and the G2 CAs missing for the
environment its NHS CAs serve. A store that cannot be opened is reported, never stops the scan.

The :class:`EstateReport` it returns renders itself as text, as JSON-ready values
(:meth:`EstateReport.to_dict`), as Prometheus metrics for node exporter's textfile collector
(:meth:`EstateReport.metric_families`), and as HTML: a self-contained page with a table and an
expiry timeline drawn as inline SVG (:func:`estate_page`), whose timeline a notebook shows too
(``_repr_html_``). Certificate text and file names are attacker-chosen: every one is escaped.

A password map is a TOML file of rules, first match wins::

    [[store]]
    glob = "prod/**/*.p12"
    password_env = "PROD_STORE_PASSWORD"

    [[store]]
    glob = "*.jks"
    password_file = "/run/secrets/jks-password"

It names where each password is, never the password: a rule holding anything else (a
``password`` key, a value that is not a variable's name) is refused without quoting it.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import hashlib
import html
import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, NoReturn

import attrs
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from truststore_builder._checks import is_certificate_authority, utc_now
from truststore_builder._errors import (
    NoCertificatesError,
    PasswordMapError,
    TruststoreBuilderError,
    UnknownFormatError,
)
from truststore_builder._formats.openmetrics import MetricFamily, Sample
from truststore_builder._model import (
    Environment,
    Generation,
    NhsCa,
    RetiredCa,
    as_password_bytes,
)
from truststore_builder._processes import available_cpus
from truststore_builder._report import (
    Cell,
    html_box,
    html_table,
    printable,
    text_table,
)
from truststore_builder._sources.files import (
    detect_format,
    read_input,
    read_named_password,
    read_store,
)
from truststore_builder._sources.nhs import nhs_catalogue

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from truststore_builder._sources.nhs import NhsCatalogue

__all__ = [
    "DEFAULT_WITHIN_DAYS",
    "CertificateFinding",
    "EstateReport",
    "PasswordMap",
    "PasswordRule",
    "StoreReport",
    "estate_page",
    "estate_text",
    "load_password_map",
    "scan_estate",
    "timeline_svg",
]

#: The default window of :func:`scan_estate`: what expires within it is listed as expiring.
DEFAULT_WITHIN_DAYS = 90
#: Stores below which a scan runs in this process (a pool costs more than it saves).
_POOL_FROM = 48
_DAY = dt.timedelta(days=1)


# --- the password map ------------------------------------------------------------------------


@attrs.frozen
class PasswordRule:
    """One rule of a password map: stores whose path matches ``glob`` open with this password.

    Attributes:
        glob: The pattern. ``*`` and ``?`` match within one path segment, ``**`` any number of
            segments; a relative pattern matches the end of a path (``*.p12`` any PKCS#12,
            ``prod/*.jks`` a JKS in any directory named prod), an absolute one the whole path.
        env: The environment variable holding the password, or None.
        file: The file holding the password, or None (exactly one of the two is set).
    """

    glob: str
    env: str | None = None
    file: Path | None = None


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RULE_KEYS = frozenset({"glob", "password_env", "password_file"})


@attrs.frozen
class PasswordMap:
    """Where the password of each store is: rules from store path globs to a variable or a file.

    Holds no password: each is read when a store that needs it is found (see
    :meth:`password_for`). Build one with :func:`load_password_map` or from rules.

    Attributes:
        rules: The rules, first match wins.
        source: The map's file, for messages.
    """

    rules: tuple[PasswordRule, ...]
    source: str = "<password map>"
    _patterns: tuple[re.Pattern[str], ...] = attrs.field(
        init=False,
        repr=False,
        eq=False,
        default=attrs.Factory(
            lambda self: tuple(_glob_pattern(rule.glob) for rule in self.rules), takes_self=True
        ),
    )

    def rule_for(self, path: str | os.PathLike[str]) -> tuple[int, PasswordRule] | None:
        """The first rule (its number, from 1, and the rule) whose glob matches ``path``."""
        text = Path(path).as_posix()
        for number, (rule, pattern) in enumerate(zip(self.rules, self._patterns, strict=True), 1):
            if pattern.fullmatch(text):
                return number, rule
        return None

    def password_for(self, path: str | os.PathLike[str]) -> bytes | None:
        """The password the first matching rule names, read now; None when no rule matches.

        Raises:
            PasswordMapError: The rule's variable is unset or empty, or its file cannot be
                read or is empty (the message names the rule, never the value).
        """
        found = self.rule_for(path)
        if found is None:
            return None
        number, rule = found

        def refuse(kind: str, problem: str) -> NoReturn:
            msg = f"{self.source}: rule {number} (password_{kind}): {problem}"
            raise PasswordMapError(msg, path=self.source, rule=number)

        return read_named_password(rule.env, rule.file, refuse)


def _glob_pattern(glob: str) -> re.Pattern[str]:
    """A regular expression for a path glob (``**`` spans segments; relative globs match tails)."""
    anchored = glob.startswith("/")
    parts: list[str] = []
    segments = glob.strip("/").split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            parts.append(".*" if last else "(?:.*/)?")
            continue
        parts.append(_segment_pattern(segment) + ("" if last else "/"))
    body = "".join(parts)
    return re.compile(f"/{body}" if anchored else f"(?:.*/)?{body}", re.DOTALL)


def _segment_pattern(segment: str) -> str:
    out = []
    index = 0
    while index < len(segment):
        char = segment[index]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and "]" in segment[index + 2 :]:
            end = segment.index("]", index + 2)
            inside = segment[index + 1 : end]
            negate = inside.startswith("!")
            inside = re.escape(inside[1:] if negate else inside).replace(r"\-", "-")
            out.append(f"[{'^' if negate else ''}{inside}]")
            index = end
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


def _refuse_rule(source: str, number: int | None, problem: str) -> NoReturn:
    where = f"{source}: rule {number}" if number is not None else source
    msg = f"{where}: {problem}"
    raise PasswordMapError(msg, path=source, rule=number)


_PLAIN_KEY = re.compile(r"[a-z_]{1,24}")


def _key_names(keys: Iterable[str]) -> str:
    """Unknown keys for a message: plain lower-case words shown, anything else not.

    A key that is not a plain word may be a password written where a key belongs.
    """
    names = [repr(k) if _PLAIN_KEY.fullmatch(k) else "(a key not shown)" for k in sorted(keys)]
    return ", ".join(names)


def _looks_like_a_path(text: str) -> bool:
    return "/" in text or text.startswith(".") or "\\" in text


def _map_rule(item: object, number: int, source: str, base: Path) -> PasswordRule:
    if not isinstance(item, dict):
        _refuse_rule(source, number, "is not a table (glob = ..., password_env or password_file)")
    unknown = sorted(set(item) - _RULE_KEYS)
    if unknown:
        # Key names only: a key named "password" may hold one, and its value is not shown.
        _refuse_rule(
            source,
            number,
            f"unknown key {_key_names(unknown)}: a rule has glob and "
            "password_env or password_file; a password map names where a password is, never "
            "the password (the value is not shown)",
        )
    glob = item.get("glob")
    if not isinstance(glob, str) or not glob.strip():
        _refuse_rule(source, number, 'has no glob (a path pattern such as "prod/*.p12")')
    env, file = item.get("password_env"), item.get("password_file")
    if (env is None) == (file is None):
        _refuse_rule(source, number, "needs exactly one of password_env and password_file")
    if env is not None:
        if not isinstance(env, str) or not _ENV_NAME.fullmatch(env):
            _refuse_rule(
                source,
                number,
                "password_env is not an environment variable's name (letters, digits and _): "
                "it may be a password written into the map, which is refused (the value is not "
                "shown)",
            )
        return PasswordRule(glob=glob, env=env)
    if not isinstance(file, str) or not file or not _looks_like_a_path(file):
        _refuse_rule(
            source,
            number,
            "password_file is not a path (give it as ./name or /dir/name): it may be a "
            "password written into the map, which is refused (the value is not shown)",
        )
    path = Path(file)
    return PasswordRule(glob=glob, file=path if path.is_absolute() else base / path)


def load_password_map(path: str | os.PathLike[str]) -> PasswordMap:
    """Read a password map: TOML, ``[[store]]`` tables of glob and password_env/password_file.

    A relative ``password_file`` is relative to the map's directory. A password file must be
    written as a path (``./secret`` or ``/run/secrets/x``), so that a password typed where a
    path belongs is refused rather than looked up.

    Raises:
        InputError: The file cannot be read.
        PasswordMapError: It is not TOML, holds another top-level key than ``store``, or a rule
            is incomplete or holds a value that looks like a password.
    """
    import tomllib  # noqa: PLC0415 - start-up time

    source = os.fspath(path)
    data = read_input(path, what="password map")
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        # The reason without the text around it: a line of the map may hold a password.
        reason = (
            str(exc).split(" (at ", 1)[0]
            if isinstance(exc, tomllib.TOMLDecodeError)
            else "not UTF-8"
        )
        _refuse_rule(source, None, f"not a TOML password map ({reason})")
    unknown = sorted(set(document) - {"store"})
    if unknown:
        _refuse_rule(
            source,
            None,
            f"unknown top-level key {_key_names(unknown)}: a password map "
            "holds [[store]] rules only (the value is not shown)",
        )
    items = document.get("store", [])
    if not isinstance(items, list) or not items:
        _refuse_rule(source, None, "holds no [[store]] rule")
    base = Path(source).parent
    rules = tuple(_map_rule(item, number, source, base) for number, item in enumerate(items, 1))
    return PasswordMap(rules=rules, source=source)


# --- what a scan finds -----------------------------------------------------------------------


@attrs.frozen
class CertificateFinding:
    """A certificate in a store, and what the NHS catalogue says of it.

    Attributes:
        alias: Its alias in the store ("" where the format has none).
        subject: Its subject, RFC 4514.
        issuer: Its issuer, RFC 4514.
        not_before: Start of validity, UTC.
        not_after: End of validity, UTC.
        sha256: SHA-256 fingerprint, lower-case hex.
        trusted: A trusted certificate entry (False: part of a private key entry's chain).
        nhs: The NHS CA it is (by pinned fingerprint), or None.
        retired: The retired NHS CA it is (it can go), or None.
        impostor_of: The NHS CA whose subject it carries without being it, or None.
    """

    alias: str
    subject: str
    issuer: str
    not_before: dt.datetime
    not_after: dt.datetime
    sha256: str
    trusted: bool
    nhs: NhsCa | None = None
    retired: RetiredCa | None = None
    impostor_of: NhsCa | None = None

    @property
    def name(self) -> str:
        """Its NHS name where the catalogue knows it, else its subject."""
        if self.nhs is not None:
            return self.nhs.name
        return self.retired.name if self.retired is not None else self.subject

    @property
    def label(self) -> str:
        """The name, then the alias where the store has one."""
        return f"{self.name} [alias {self.alias}]" if self.alias else self.name

    def days_left(self, at: dt.datetime) -> int:
        """Whole days from ``at`` to its end of validity (negative once expired)."""
        return (self.not_after - at) // _DAY

    def to_dict(self, at: dt.datetime) -> dict[str, object]:
        """JSON-ready values, judged at ``at``."""
        nhs = self.nhs
        return {
            "alias": self.alias,
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "days_left": self.days_left(at),
            "expired": at > self.not_after,
            "sha256": self.sha256,
            "trusted": self.trusted,
            "nhs_name": nhs.name if nhs else None,
            "nhs_slug": nhs.slug if nhs else None,
            "nhs_generation": nhs.generation.value if nhs else None,
            "nhs_environments": [e.value for e in nhs.environments] if nhs else None,
            "retired": None
            if self.retired is None
            else {
                "slug": self.retired.slug,
                "name": self.retired.name,
                "expired": self.retired.expired.isoformat(),
                "why": self.retired.why,
            },
            "impostor_of": self.impostor_of.name if self.impostor_of else None,
        }


@attrs.frozen
class StoreReport:
    """One store of the estate: what it holds, or why it could not be read.

    Attributes:
        path: The store's path.
        format: What it is (``pem``, ``der``, ``pkcs7``, ``pkcs12``, ``jks``, ``jceks``), or
            None when it could not be told.
        certificates: Every certificate, in store order, each once per alias.
        key_entries: How many private key entries it holds (told by their end-entity
            certificates, counted by alias).
        environments: The environments its NHS CAs serve (see :func:`scan_estate`).
        missing_g2: ``(environment, CA)`` for each G2 CA an environment has and the store lacks.
        error: Why it could not be read (one line naming the file and the rule), or None.
        error_type: The error's class name (``WrongPasswordError``), or None.
        notes: Warnings met while reading it (a JKS read without its password is unchecked).
    """

    path: str
    format: str | None = None
    certificates: tuple[CertificateFinding, ...] = ()
    key_entries: int = 0
    environments: tuple[Environment, ...] = ()
    missing_g2: tuple[tuple[Environment, NhsCa], ...] = ()
    error: str | None = None
    error_type: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def readable(self) -> bool:
        """Whether the store was read."""
        return self.error is None

    @property
    def earliest(self) -> CertificateFinding | None:
        """The certificate that expires first (None for an unreadable store)."""
        return min(self.certificates, key=lambda c: (c.not_after, c.label), default=None)

    @property
    def retired(self) -> tuple[CertificateFinding, ...]:
        """The retired NHS CAs it holds (each can go)."""
        return tuple(c for c in self.certificates if c.retired is not None)

    @property
    def impostors(self) -> tuple[CertificateFinding, ...]:
        """The certificates carrying an NHS CA's subject without being that CA."""
        return tuple(c for c in self.certificates if c.impostor_of is not None)

    def to_dict(self, at: dt.datetime) -> dict[str, object]:
        """JSON-ready values, judged at ``at``."""
        earliest = self.earliest
        return {
            "path": self.path,
            "readable": self.readable,
            "format": self.format,
            "error": self.error,
            "error_type": self.error_type,
            "entries": len(self.certificates),
            "key_entries": self.key_entries,
            "environments": [e.value for e in self.environments],
            "earliest": earliest.to_dict(at) if earliest else None,
            "retired": [c.sha256 for c in self.retired],
            "impostors": [c.sha256 for c in self.impostors],
            "missing_g2": [
                {"environment": env.value, "slug": ca.slug, "name": ca.name}
                for env, ca in self.missing_g2
            ],
            "notes": list(self.notes),
            "certificates": [c.to_dict(at) for c in self.certificates],
        }


@attrs.frozen
class EstateReport:
    """Every store :func:`scan_estate` found, judged at one time against one window.

    Attributes:
        at: The time judged at.
        within_days: The window: a certificate whose end of validity falls before ``at`` plus
            this many days is expiring (expired ones too).
        stores: Every store, readable or not, in the order found.
        skipped: Files met inside directories that hold no certificate (a README, a key).
    """

    at: dt.datetime
    within_days: int
    stores: tuple[StoreReport, ...]
    skipped: tuple[str, ...] = ()

    @property
    def horizon(self) -> dt.datetime:
        """``at`` plus the window: what ends before it is expiring."""
        return self.at + dt.timedelta(days=self.within_days)

    @property
    def expiring(self) -> tuple[tuple[StoreReport, CertificateFinding], ...]:
        """Every certificate that expires within the window (or has expired), soonest first."""
        found = [
            (store, certificate)
            for store in self.stores
            for certificate in store.certificates
            if certificate.not_after < self.horizon
        ]
        return tuple(sorted(found, key=lambda pair: (pair[1].not_after, pair[0].path)))

    @property
    def unreadable(self) -> tuple[StoreReport, ...]:
        """The stores that could not be read."""
        return tuple(store for store in self.stores if not store.readable)

    @property
    def ok(self) -> bool:
        """Whether every store was read and nothing expires within the window."""
        return not self.unreadable and not self.expiring

    def to_dict(self) -> dict[str, object]:
        """JSON-ready values: the stores, what expires within the window, what was skipped."""
        return {
            "at": self.at.isoformat(),
            "within_days": self.within_days,
            "ok": self.ok,
            "stores": [store.to_dict(self.at) for store in self.stores],
            "expiring": [
                {
                    "path": store.path,
                    **certificate.to_dict(self.at),
                }
                for store, certificate in self.expiring
            ],
            "unreadable": [store.path for store in self.unreadable],
            "skipped": list(self.skipped),
        }

    def metric_families(self) -> list[MetricFamily]:
        """The report as metric families for node exporter's textfile collector (see module)."""
        return estate_metrics(self)

    def __str__(self) -> str:
        """The estate as text: a table of stores, then what needs doing."""
        return estate_text(self)

    def __repr__(self) -> str:
        """``<EstateReport: N stores, M certificates, K expiring within D days, U unreadable>``."""
        count = sum(len(store.certificates) for store in self.stores)
        return (
            f"<EstateReport: {len(self.stores)} stores, {count} certificates, "
            f"{len(self.expiring)} expiring within {self.within_days} days, "
            f"{len(self.unreadable)} unreadable>"
        )

    def _repr_html_(self) -> str:
        """The timeline and the store table, for a notebook."""
        return html_box(timeline_svg(self), _store_table_html(self))


# --- scanning --------------------------------------------------------------------------------


class _Read(NamedTuple):
    """What a worker read from one store: picklable, catalogue-free."""

    format: str | None
    entries: list[tuple[str, bytes, bool]]
    error: str | None = None
    error_type: str | None = None
    skippable: bool = False
    notes: tuple[str, ...] = ()


def _read_one(path: str, password: bytes | None) -> _Read:
    """Read one store (in a worker process, or here): its format and entries as DER."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            kind = detect_format(read_input(path, what="store"), path)
            entries = read_store(path, password=password)
        except (UnknownFormatError, NoCertificatesError) as exc:
            return _Read(None, [], str(exc), type(exc).__name__, skippable=True)
        except TruststoreBuilderError as exc:
            return _Read(None, [], str(exc), type(exc).__name__)
    notes = tuple(dict.fromkeys(printable(str(w.message)) for w in caught))
    return _Read(
        kind,
        [(e.alias, e.certificate.public_bytes(Encoding.DER), e.trusted) for e in entries],
        notes=notes,
    )


def _walk(directory: Path) -> Iterator[Path]:
    """Regular files under ``directory``, in name order, hidden ones and symlinked dirs left out."""
    try:
        children = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    for child in children:
        if child.name.startswith("."):
            continue
        if child.is_dir(follow_symlinks=False):
            yield from _walk(Path(child.path))
        elif child.is_file():
            yield Path(child.path)


class _Found(NamedTuple):
    path: Path
    #: The directory given that it was found in, or None for a file given by name.
    directory: Path | None


def _find(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[_Found], list[Path]]:
    """Every file to read, and the directories given.

    Files named are taken as they are, directories walked; each real file is read once.
    """
    found: list[_Found] = []
    directories: list[Path] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            directories.append(path)
            candidates = [_Found(p, path) for p in _walk(path)]
        else:
            candidates = [_Found(path, None)]
        for candidate in candidates:
            try:
                real = candidate.path.resolve()
            except OSError:
                real = candidate.path
            if real in seen:
                continue
            seen.add(real)
            found.append(candidate)
    return found, directories


def _passwords(
    found: Sequence[_Found], passwords: PasswordMap | None, default: bytes | None
) -> list[bytes | PasswordMapError | None]:
    """Each store's password (each rule read once), or the map's error for that store."""
    cache: dict[int, bytes | PasswordMapError | None] = {}
    result: list[bytes | PasswordMapError | None] = []
    for item in found:
        rule = passwords.rule_for(item.path) if passwords else None
        if passwords is None or rule is None:
            result.append(default)
            continue
        number = rule[0]
        if number not in cache:
            try:
                cache[number] = passwords.password_for(item.path)
            except PasswordMapError as exc:
                cache[number] = exc
        result.append(cache[number])
    return result


def _read_all(
    jobs: Sequence[tuple[str, bytes | None]],
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> list[_Read]:
    total = len(jobs)
    if progress:
        progress(0, total)
    results: list[_Read] = []
    if workers <= 1:
        for path, password in jobs:
            results.append(_read_one(path, password))
            if progress:
                progress(len(results), total)
        return results
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers)
    try:
        chunk = max(1, min(16, total // (workers * 8)))
        for read in pool.map(
            _read_one, [j[0] for j in jobs], [j[1] for j in jobs], chunksize=chunk
        ):
            results.append(read)
            if progress:
                progress(len(results), total)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return results


def _finding(
    alias: str,
    der: bytes,
    certificate: x509.Certificate,
    *,
    trusted: bool,
    catalogue: NhsCatalogue,
) -> CertificateFinding:
    sha256 = hashlib.sha256(der).hexdigest()
    nhs = catalogue.recognise_der(der, sha256)
    subject = certificate.subject.rfc4514_string()
    return CertificateFinding(
        alias=alias,
        subject=subject,
        issuer=certificate.issuer.rfc4514_string(),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        sha256=sha256,
        trusted=trusted,
        nhs=nhs,
        retired=catalogue.retirement_of(sha256),
        impostor_of=catalogue.claimed_by(subject) if nhs is None else None,
    )


def _environments(certificates: Sequence[CertificateFinding]) -> tuple[Environment, ...]:
    """The environments the store's NHS authentication CAs serve.

    An intermediate names its environment (NHS INT Level 1C: int), a PTL root serves several
    (int, dep, dev, tra): the intermediates decide where the store holds any, else the roots.
    """
    cas = [c.nhs for c in certificates if c.nhs is not None and c.nhs.purpose == "authentication"]
    intermediates = [ca for ca in cas if ca.role == "intermediate"]
    chosen = intermediates or cas
    found = {env for ca in chosen for env in ca.environments}
    return tuple(env for env in Environment if env in found)


def _missing_g2(
    certificates: Sequence[CertificateFinding],
    environments: Sequence[Environment],
    catalogue: NhsCatalogue,
) -> tuple[tuple[Environment, NhsCa], ...]:
    held = {c.nhs.slug for c in certificates if c.nhs is not None}
    return tuple(
        (env, ca)
        for env in environments
        for ca, _certificate in catalogue.select(env, (Generation.G2,))
        if ca.slug not in held
    )


def _store_report(path: str, read: _Read, catalogue: NhsCatalogue) -> StoreReport:
    if read.error is not None:
        return StoreReport(path=path, error=read.error, error_type=read.error_type)
    findings: list[CertificateFinding] = []
    seen: set[tuple[str, str]] = set()
    key_aliases: set[str] = set()
    for alias, der, trusted in read.entries:
        certificate = x509.load_der_x509_certificate(der)
        finding = _finding(alias, der, certificate, trusted=trusted, catalogue=catalogue)
        if not trusted and not is_certificate_authority(certificate):
            # A key entry's own certificate: its chain's CAs share its alias (JKS) or have
            # none (PKCS#12), and an untrusted CA without a key is no key entry.
            key_aliases.add(alias)
        if (alias, finding.sha256) in seen:
            continue
        seen.add((alias, finding.sha256))
        findings.append(finding)
    environments = _environments(findings)
    return StoreReport(
        path=path,
        format=read.format,
        certificates=tuple(findings),
        key_entries=len(key_aliases),
        environments=environments,
        missing_g2=_missing_g2(findings, environments, catalogue),
        notes=read.notes,
    )


def scan_estate(
    paths: Iterable[str | os.PathLike[str]],
    *,
    passwords: PasswordMap | None = None,
    password: str | bytes | None = None,
    at: dt.datetime | None = None,
    within_days: int = DEFAULT_WITHIN_DAYS,
    catalogue: NhsCatalogue | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EstateReport:
    """Read every store under ``paths`` and report each one; a store that fails is reported.

    A named file is read as a store whatever it holds (one that is no store is reported as
    unreadable); a directory is walked recursively (hidden files and directories, and
    symbolic links to directories, left out), and a file in it that holds no certificate (a
    README, a private key) is listed in ``skipped``. Each real file is read once.

    A store's environments are those its NHS authentication intermediates serve (else its
    roots'); for each, the G2 CAs the catalogue has and the store lacks are ``missing_g2``.

    Args:
        paths: Files and directories.
        passwords: Where each store's password is; stores no rule matches use ``password``.
        password: The password of stores the map does not name (None: none).
        at: The time to judge at (default: now).
        within_days: The window of :attr:`EstateReport.expiring`.
        catalogue: The NHS catalogue (default: the shipped one).
        workers: Processes to read with (default: every available CPU for 48 stores or
            more, else 1).
        progress: Called as ``progress(done, total)`` as stores are read.

    Returns:
        The report; ``report.ok`` is false when a store could not be read or a certificate
        expires within the window.

    Raises:
        ValueError: ``within_days`` or ``workers`` is negative.
    """
    if within_days < 0:
        msg = f"within_days must be 0 or more, not {within_days}"
        raise ValueError(msg)
    if workers is not None and workers < 0:
        msg = f"workers must be 0 or more, not {workers}"
        raise ValueError(msg)
    when = at or utc_now()
    names = catalogue or nhs_catalogue()
    found, directories = _find(paths)
    secrets = _passwords(found, passwords, as_password_bytes(password))
    jobs: list[tuple[str, bytes | None]] = []
    refused: dict[int, PasswordMapError] = {}
    for index, (item, secret) in enumerate(zip(found, secrets, strict=True)):
        if isinstance(secret, PasswordMapError):
            refused[index] = secret
        else:
            jobs.append((str(item.path), secret))
    used = workers or (available_cpus() if len(jobs) >= _POOL_FROM else 1)
    reads = iter(_read_all(jobs, min(used, max(1, len(jobs))), progress))
    stores: list[StoreReport] = []
    skipped: list[str] = []
    holding: set[Path] = set()  # the directories given in which a store was found
    for index, item in enumerate(found):
        path = str(item.path)
        if index in refused:
            report = StoreReport(
                path=path, error=str(refused[index]), error_type="PasswordMapError"
            )
        else:
            read = next(reads)
            if read.skippable and item.directory is not None:
                skipped.append(path)
                continue
            report = _store_report(path, read, names)
        stores.append(report)
        if item.directory is not None:
            holding.add(item.directory)
    # A directory given that holds no store at all is reported: a wrong path must not pass.
    stores.extend(
        StoreReport(
            path=str(directory),
            error=f"{directory}: the directory holds no store (no certificate file under it)",
            error_type="NoCertificatesError",
        )
        for directory in directories
        if directory not in holding
    )
    return EstateReport(
        at=when, within_days=within_days, stores=tuple(stores), skipped=tuple(skipped)
    )


# --- metrics ---------------------------------------------------------------------------------

_PREFIX = "truststore_builder"


def _environment_label(certificate: CertificateFinding, store: StoreReport) -> str:
    environments = certificate.nhs.environments if certificate.nhs else store.environments
    return ",".join(env.value for env in environments)


def _nhs_label(certificate: CertificateFinding) -> str:
    if certificate.nhs is not None:
        return certificate.nhs.name
    return certificate.retired.name if certificate.retired is not None else ""


def _certificate_labels(store: StoreReport, certificate: CertificateFinding) -> dict[str, str]:
    return {
        "store": store.path,
        "alias": certificate.alias,
        "subject": certificate.subject,
        "sha256": certificate.sha256,
        "nhs_ca": _nhs_label(certificate),
        "environment": _environment_label(certificate, store),
    }


def estate_metrics(report: EstateReport) -> list[MetricFamily]:
    """The report as metric families (all gauges; see :mod:`._formats.openmetrics`).

    - ``truststore_builder_certificate_not_after_timestamp_seconds``: each certificate's end of
      validity, labelled store, alias, subject, sha256, nhs_ca and environment;
    - ``truststore_builder_store_earliest_not_after_timestamp_seconds``: each readable store's
      first expiry, with the labels of the certificate that expires first;
    - ``truststore_builder_store_readable``: 1 or 0 per store;
    - ``truststore_builder_store_certificates``, ``..._store_key_entries``,
      ``..._store_retired_cas``, ``..._store_impostor_cas``, ``..._store_missing_g2_cas``:
      counts per readable store;
    - ``truststore_builder_estate_scan_timestamp_seconds``: the time judged at.
    """
    readable = [store for store in report.stores if store.readable]
    certificates = tuple(
        Sample(_certificate_labels(store, certificate), certificate.not_after.timestamp())
        for store in readable
        for certificate in store.certificates
    )
    earliest = []
    for store in readable:
        first = store.earliest
        if first is not None:
            earliest.append(Sample(_certificate_labels(store, first), first.not_after.timestamp()))

    def per_store(name: str, help_text: str, count: Callable[[StoreReport], int]) -> MetricFamily:
        samples = tuple(Sample({"store": s.path}, count(s)) for s in readable)
        return MetricFamily(f"{_PREFIX}_store_{name}", help_text, samples=samples)

    return [
        MetricFamily(
            f"{_PREFIX}_certificate_not_after_timestamp_seconds",
            "End of validity of each certificate in each store (Unix time).",
            unit="seconds",
            samples=certificates,
        ),
        MetricFamily(
            f"{_PREFIX}_store_earliest_not_after_timestamp_seconds",
            "End of validity of the certificate that expires first in each store (Unix time).",
            unit="seconds",
            samples=tuple(earliest),
        ),
        MetricFamily(
            f"{_PREFIX}_store_readable",
            "1 if the store was read, 0 if it could not be (wrong password, damaged, missing).",
            samples=tuple(Sample({"store": s.path}, int(s.readable)) for s in report.stores),
        ),
        per_store("certificates", "Certificates in the store.", lambda s: len(s.certificates)),
        per_store("key_entries", "Private key entries in the store.", lambda s: s.key_entries),
        per_store(
            "retired_cas", "Retired NHS CAs in the store (each can go).", lambda s: len(s.retired)
        ),
        per_store(
            "impostor_cas",
            "Certificates carrying an NHS CA's subject without being that CA.",
            lambda s: len(s.impostors),
        ),
        per_store(
            "missing_g2_cas",
            "G2 NHS CAs the store's environments have that the store lacks.",
            lambda s: len(_missing_by_ca(s)),
        ),
        MetricFamily(
            f"{_PREFIX}_estate_scan_timestamp_seconds",
            "When the estate was judged (Unix time).",
            unit="seconds",
            samples=(Sample({}, report.at.timestamp()),),
        ),
    ]


# --- text ------------------------------------------------------------------------------------


def _status(certificate: CertificateFinding | None, report: EstateReport) -> str:
    if certificate is None:
        return "-"
    days = certificate.days_left(report.at)
    if certificate.not_after < report.at:
        return "expired"
    if certificate.not_after < report.horizon:
        return f"expires in {days} days"
    return "valid"


def _flags(store: StoreReport) -> str:
    flags = []
    if store.retired:
        flags.append(f"{len(store.retired)} retired")
    if store.impostors:
        flags.append(f"{len(store.impostors)} impostor")
    if store.missing_g2:
        environments = dict.fromkeys(env.value for env, _ in store.missing_g2)
        flags.append(f"missing G2 ({', '.join(environments)})")
    return "; ".join(flags) or "-"


_TEXT_HEADERS = (
    "store",
    "format",
    "entries",
    "keys",
    "env",
    "expires first",
    "on",
    "status",
    "flags",
)


def _store_row(store: StoreReport, report: EstateReport) -> tuple[str, ...]:
    if not store.readable:
        return (store.path, "-", "-", "-", "-", "-", "-", "unreadable", "-")
    first = store.earliest
    return (
        store.path,
        store.format or "-",
        str(len(store.certificates)),
        str(store.key_entries),
        ",".join(e.value for e in store.environments) or "-",
        first.label if first else "-",
        f"{first.not_after:%Y-%m-%d}" if first else "-",
        _status(first, report),
        _flags(store),
    )


def _missing_by_ca(store: StoreReport) -> dict[NhsCa, str]:
    """Each missing G2 CA once, with the environments that lack it (``int, dep``)."""
    found: dict[NhsCa, list[str]] = {}
    for env, ca in store.missing_g2:
        found.setdefault(ca, []).append(env.value)
    return {ca: ", ".join(envs) for ca, envs in found.items()}


def _days_text(days: int) -> str:
    return f"{abs(days)} day{'' if abs(days) == 1 else 's'}"


def estate_text(report: EstateReport) -> str:
    """The estate as text: one line per store, then what needs doing, then a summary."""
    lines = [
        text_table(
            _TEXT_HEADERS,
            [_store_row(store, report) for store in report.stores],
            max_width=60,
        )
    ]
    for store in report.stores:
        if not store.readable:
            lines.append(f"unreadable: {store.error}")
            continue
        for certificate in store.retired:
            retired = certificate.retired
            assert retired is not None
            lines.append(
                f"{store.path}: retired, can go: {certificate.label}: {retired.why}; "
                f"expired {retired.expired:%Y-%m-%d}"
            )
        for certificate in store.impostors:
            claimed = certificate.impostor_of
            assert claimed is not None
            lines.append(
                f"{store.path}: impostor: {certificate.label} claims to be {claimed.name} but "
                f"is not the pinned certificate (sha256 {certificate.sha256})"
            )
        for ca, environments in _missing_by_ca(store).items():
            lines.append(f"{store.path}: missing G2 for {environments}: {ca.name}")
        lines.extend(f"{store.path}: note: {note}" for note in store.notes)
    for store, certificate in report.expiring:
        days = certificate.days_left(report.at)
        when = (
            f"expired {_days_text(days)} ago"
            if certificate.not_after < report.at
            else f"in {_days_text(days)}"
        )
        lines.append(
            f"{store.path}: expires within {report.within_days} days: {certificate.label} on "
            f"{certificate.not_after:%Y-%m-%d} ({when})"
        )
    lines.append(_summary(report))
    return "\n".join(printable(line) if i else line for i, line in enumerate(lines))


def _summary(report: EstateReport) -> str:
    count = sum(len(store.certificates) for store in report.stores)
    parts = [
        f"{len(report.stores)} store{'' if len(report.stores) == 1 else 's'}",
        f"{count} certificate{'' if count == 1 else 's'}",
        f"{len(report.expiring)} expiring within {report.within_days} days",
        f"{len(report.unreadable)} unreadable",
    ]
    if report.skipped:
        parts.append(f"{len(report.skipped)} files skipped (no certificate)")
    return ", ".join(parts)


# --- HTML: the page, the table and the timeline ----------------------------------------------


def _e(text: str) -> str:
    return html.escape(printable(text), quote=True)


_COLOURS = {
    "expired": "#dc2626",
    "soon": "#ca8a04",
    "valid": "#16a34a",
    "retired": "#7c3aed",
    "impostor": "#be123c",
}


def _level(certificate: CertificateFinding, report: EstateReport) -> str:
    if certificate.not_after < report.at:
        return "expired"
    return "soon" if certificate.not_after < report.horizon else "valid"


def _store_table_html(report: EstateReport) -> str:
    rows: list[tuple[str | Cell, ...]] = []
    classes: list[str | None] = []
    for store in report.stores:
        cells = _store_row(store, report)
        rows.append((Cell(cells[0], mono=True), *cells[1:6], Cell(cells[6], mono=True), *cells[7:]))
        first = store.earliest
        if not store.readable:
            classes.append("expired")
        elif first is None:
            classes.append(None)
        else:
            level = _level(first, report)
            classes.append(None if level == "valid" else level)
    return html_table(_TEXT_HEADERS, rows, classes, caption=f"Stores: {_summary(report)}")


def _certificates_table_html(report: EstateReport) -> str:
    headers = ("store", "alias", "subject", "NHS CA", "env", "not after", "status", "flags")
    rows: list[tuple[str | Cell, ...]] = []
    classes: list[str | None] = []
    for store in report.stores:
        for certificate in store.certificates:
            flags = []
            if certificate.retired is not None:
                flags.append("retired: can go")
            if certificate.impostor_of is not None:
                flags.append(f"impostor of {certificate.impostor_of.name}")
            nhs = certificate.nhs
            rows.append(
                (
                    Cell(store.path, mono=True),
                    Cell(certificate.alias or "-", mono=True),
                    Cell(certificate.subject, title=f"sha256 {certificate.sha256}"),
                    f"{nhs.name} ({nhs.generation.value})" if nhs else "-",
                    _environment_label(certificate, store) or "-",
                    Cell(f"{certificate.not_after:%Y-%m-%d}", mono=True),
                    _status(certificate, report),
                    "; ".join(flags) or "-",
                )
            )
            level = _level(certificate, report)
            classes.append(None if level == "valid" else level)
    return html_table(headers, rows, classes, caption="Certificates")


def _unreadable_html(report: EstateReport) -> str:
    rows = [
        (Cell(s.path, mono=True), s.error_type or "-", s.error or "") for s in report.unreadable
    ]
    if not rows:
        return ""
    return html_table(
        ("store", "error", "message"), rows, ["expired"] * len(rows), caption="Unreadable stores"
    )


def _ticks(start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, str]]:
    """Axis ticks: every year (or every few years, or every month for a short span)."""
    span_days = (end - start).days
    ticks: list[tuple[dt.datetime, str]] = []
    if span_days <= 2 * 365:
        month = dt.datetime(start.year, start.month, 1, tzinfo=dt.UTC)
        while month <= end:
            if month >= start:
                ticks.append((month, f"{month:%Y-%m}"))
            month = dt.datetime(
                month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=dt.UTC
            )
        return ticks
    step = max(1, span_days // (365 * 12) + 1)
    ticks.extend(
        (dt.datetime(year, 1, 1, tzinfo=dt.UTC), str(year))
        for year in range(start.year + 1, end.year + 1)
        if year % step == 0
    )
    return ticks


_ROW = 22
_LABEL_WIDTH = 330
_PLOT_WIDTH = 760
_TOP = 44
_LABEL_CHARS = 46


def _clip_middle(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    half = (width - 1) // 2
    return f"{text[:half]}…{text[-(width - 1 - half) :]}"


def _marker(certificate: CertificateFinding, x: float, y: float, report: EstateReport) -> str:
    level = _level(certificate, report)
    tip = (
        f"{certificate.label}\nnot after {certificate.not_after:%Y-%m-%d %H:%M} UTC "
        f"({_status(certificate, report)})\nsha256 {certificate.sha256}"
    )
    title = f"<title>{_e(tip)}</title>"
    if certificate.impostor_of is not None:
        tip_note = f"impostor of {certificate.impostor_of.name}"
        return (
            f'<g class="impostor"><title>{_e(tip + chr(10) + tip_note)}</title>'
            f'<path d="M{x:.1f},{y - 7:.1f} L{x + 7:.1f},{y + 6:.1f} L{x - 7:.1f},{y + 6:.1f} Z" '
            f'fill="{_COLOURS["impostor"]}" stroke="#000" stroke-width="1"/></g>'
        )
    if certificate.retired is not None:
        return (
            f'<g class="retired"><title>{_e(tip + chr(10) + "retired NHS CA: can go")}</title>'
            f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" '
            f'fill="{_COLOURS["retired"]}" transform="rotate(45 {x:.1f} {y:.1f})"/></g>'
        )
    return (
        f'<g class="{level}">{title}<circle cx="{x:.1f}" cy="{y:.1f}" r="5" '
        f'fill="{_COLOURS[level]}" stroke="#fff" stroke-width="1"/></g>'
    )


def timeline_svg(report: EstateReport) -> str:
    """The expiry timeline as inline SVG: one row per store, each certificate at its not-after.

    The axis runs from before the first expiry (or a year before now) to after the last (or
    the window's end); a line marks now, a dashed one the window's end. Circles are coloured
    by expiry (expired, within the window, later); a retired NHS CA is a purple diamond and an
    impostor a red triangle. Every mark has a tooltip (an SVG ``<title>``) naming the
    certificate; every text is escaped.
    """
    readable = [store for store in report.stores if store.readable and store.certificates]
    ends = [c.not_after for store in readable for c in store.certificates]
    start = min([report.at - dt.timedelta(days=365), *ends]) - dt.timedelta(days=30)
    end = max([report.horizon + dt.timedelta(days=30), *ends]) + dt.timedelta(days=60)
    span = (end - start).total_seconds()

    def x_of(when: dt.datetime) -> float:
        return _LABEL_WIDTH + _PLOT_WIDTH * (when - start).total_seconds() / span

    height = _TOP + _ROW * max(1, len(readable)) + 30
    width = _LABEL_WIDTH + _PLOT_WIDTH + 20
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="tsb-timeline" role="img" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'style="font-family: system-ui, sans-serif; font-size: 12px; max-width: 100%">'
        ),
        f"<title>{_e(f'Expiry timeline of {len(readable)} stores at {report.at:%Y-%m-%d}')}</title>",
    ]
    bottom = height - 24
    for when, label in _ticks(start, end):
        x = x_of(when)
        parts.append(
            f'<line x1="{x:.1f}" y1="{_TOP - 6}" x2="{x:.1f}" y2="{bottom}" '
            f'stroke="rgba(128,128,128,0.25)"/>'
            f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle" fill="#666">{_e(label)}</text>'
        )
    now_x, horizon_x = x_of(report.at), x_of(report.horizon)
    parts.append(
        f'<rect x="{now_x:.1f}" y="{_TOP - 6}" width="{max(0.0, horizon_x - now_x):.1f}" '
        f'height="{bottom - _TOP + 6}" fill="rgba(234,179,8,0.12)"/>'
        f'<line class="today" x1="{now_x:.1f}" y1="{_TOP - 20}" x2="{now_x:.1f}" y2="{bottom}" '
        f'stroke="#dc2626" stroke-width="2"/>'
        f'<text x="{now_x:.1f}" y="{_TOP - 24}" text-anchor="middle" fill="#dc2626">'
        f"{_e(f'today {report.at:%Y-%m-%d}')}</text>"
        f'<line class="horizon" x1="{horizon_x:.1f}" y1="{_TOP - 8}" x2="{horizon_x:.1f}" '
        f'y2="{bottom}" stroke="#ca8a04" stroke-width="2" stroke-dasharray="6 4"/>'
        f'<text x="{horizon_x:.1f}" y="{_TOP - 10}" text-anchor="start" fill="#ca8a04">'
        f"{_e(f'+{report.within_days} days')}</text>"
    )
    for row, store in enumerate(readable):
        y = _TOP + _ROW * row + _ROW / 2
        parts.append(
            f'<g class="store"><title>{_e(store.path)}</title>'
            f'<text x="{_LABEL_WIDTH - 10}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_e(_clip_middle(store.path, _LABEL_CHARS))}</text></g>"
            f'<line x1="{_LABEL_WIDTH}" y1="{y:.1f}" x2="{_LABEL_WIDTH + _PLOT_WIDTH}" '
            f'y2="{y:.1f}" stroke="rgba(128,128,128,0.35)"/>'
        )
        parts.extend(
            _marker(certificate, x_of(certificate.not_after), y, report)
            for certificate in sorted(store.certificates, key=lambda c: c.not_after)
        )
    parts.append("</svg>")
    return "".join(parts)


_LEGEND = (
    ("expired", "circle", "expired"),
    ("soon", "circle", "expires within the window"),
    ("valid", "circle", "valid beyond the window"),
    ("retired", "diamond", "retired NHS CA (can go)"),
    ("impostor", "triangle", "impostor: an NHS CA's name, another key"),
)


def _legend_html() -> str:
    items = []
    for key, shape, text in _LEGEND:
        colour = _COLOURS[key]
        mark = {
            "circle": f'<circle cx="7" cy="7" r="5" fill="{colour}"/>',
            "diamond": f'<rect x="3" y="3" width="8" height="8" fill="{colour}" transform="rotate(45 7 7)"/>',
            "triangle": f'<path d="M7,1 L13,13 L1,13 Z" fill="{colour}"/>',
        }[shape]
        items.append(
            f'<span style="margin-right: 1.2em"><svg width="14" height="14" '
            f'style="vertical-align: middle">{mark}</svg> {_e(text)}</span>'
        )
    return f'<p class="legend">{"".join(items)}</p>'


_PAGE_STYLE = (
    "body { font-family: system-ui, sans-serif; margin: 1.5em; color: #111; background: #fff; }"
    " h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.5em; }"
    " .summary { color: #333; }"
)


def estate_page(report: EstateReport, *, title: str = "NHS PKI estate") -> str:
    """The report as one self-contained HTML page: no scripts, no network, no external files.

    A Content-Security-Policy forbids scripts and every fetch, so that even a mistake in
    escaping could not run one; the only styles are inline.
    """
    judged = (
        f"Judged at {report.at:%Y-%m-%d %H:%M} UTC, window {report.within_days} days: "
        f"{_summary(report)}."
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_PAGE_STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        f'<p class="summary">{_e(judged)}</p>'
        "<h2>Expiry timeline</h2>"
        f"{_legend_html()}{timeline_svg(report)}"
        f"<h2>Stores</h2>{_store_table_html(report)}{_unreadable_html(report)}"
        f"<h2>Certificates</h2>{_certificates_table_html(report)}"
        "</body></html>\n"
    )
