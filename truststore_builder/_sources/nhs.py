"""Source: the NHS PKI catalogue shipped in ``bundles/``, every certificate checked against its pin.

An installed package reads the bundle from inside itself (``truststore_builder/bundles``, put
there by the wheel build), through ``importlib.resources``, and from nowhere else. Only a
source checkout in development (the package imported from beside this project's
``pyproject.toml``) reads the repository's top-level ``bundles/``: a ``bundles/`` directory
that some other distribution installed next to the package in ``site-packages`` is never read.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from truststore_builder._errors import InputError, MalformedInputError, PinMismatchError
from truststore_builder._model import Environment, Generation, NhsCa, RetiredCa
from truststore_builder._writing import write_directory_atomically

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Iterator, Mapping

__all__ = [
    "BUILDABLE_ENVIRONMENTS",
    "NhsCatalogue",
    "bundle_directory",
    "catalogue_manifest",
    "load_nhs_catalogue",
    "nhs_catalogue",
    "write_nhs_catalogue",
]

#: The environments a store can be built for: every one, now that DEV and TRA Level 1C ship.
BUILDABLE_ENVIRONMENTS = tuple(Environment)

_MANIFEST = "manifest.toml"
_FIELDS = {
    "slug",
    "name",
    "environments",
    "generation",
    "role",
    "purpose",
    "sha256",
    "sha1",
    "file",
}
_RETIRED_FIELDS = {"slug", "name", "sha256", "expired", "why"}


_PROJECT_NAME = 'name = "truststore-builder"'


def bundle_directory() -> Path:
    """Return the directory holding the NHS certificates and their manifest.

    Raises:
        InputError: The package holds no bundle and is not a development checkout (a broken
            installation).
    """
    import importlib.resources  # noqa: PLC0415 - start-up time: only when the catalogue is first loaded

    packaged = importlib.resources.files("truststore_builder") / "bundles"
    if isinstance(packaged, Path) and (packaged / _MANIFEST).is_file():
        return packaged
    checkout = _checkout_bundle()
    if checkout is not None:
        return checkout
    msg = (
        f"{packaged}: the NHS catalogue is missing from the installed package (no {_MANIFEST}); "
        "reinstall truststore-builder"
    )
    raise InputError(msg, source=str(packaged))


def _checkout_bundle() -> Path | None:
    """The repository's ``bundles/`` when the package is imported from a source checkout.

    A checkout is told by this project's ``pyproject.toml`` beside the package directory,
    which no installation into ``site-packages`` has.
    """
    root = Path(__file__).resolve().parent.parent.parent
    try:
        project = (root / "pyproject.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    bundle = root / "bundles"
    if _PROJECT_NAME in project.splitlines() and (bundle / _MANIFEST).is_file():
        return bundle
    return None


#: Position and record by pinned SHA-256, and by SHA-1 for records pinned only so.
_PinIndex = tuple[dict[str, tuple[int, NhsCa]], dict[str, tuple[int, NhsCa]]]


def _index_pins(cas: Iterable[NhsCa]) -> _PinIndex:
    """Index the records by pin; the first in manifest order wins a pin shared by two."""
    by_sha256: dict[str, tuple[int, NhsCa]] = {}
    by_sha1: dict[str, tuple[int, NhsCa]] = {}
    for position, ca in enumerate(cas):
        if ca.sha256 is not None:
            by_sha256.setdefault(ca.sha256, (position, ca))
        elif ca.sha1 is not None:
            by_sha1.setdefault(ca.sha1, (position, ca))
    return by_sha256, by_sha1


def _index_subjects(
    cas: Iterable[NhsCa], certificates: Mapping[str, x509.Certificate]
) -> dict[str, NhsCa]:
    """Index the shipped records by canonical subject; the first in manifest order wins."""
    index: dict[str, NhsCa] = {}
    for ca in cas:
        certificate = certificates.get(ca.slug)
        if certificate is not None:
            index.setdefault(_canonical_subject(certificate.subject.rfc4514_string()), ca)
    return index


_AROUND_SEPARATORS = re.compile(r"(?:\\ | )*([=,+])(?:\\ | )*")


def _canonical_subject(rfc4514: str) -> str:
    """The form in which two encodings of one name (case, spaces, string type) are equal."""
    folded = " ".join(unicodedata.normalize("NFKC", rfc4514).casefold().split())
    return _AROUND_SEPARATORS.sub(r"\1", folded)


@attrs.frozen
class NhsCatalogue:
    """The NHS CAs: their manifest records and the certificates we ship, pins checked.

    Attributes:
        cas: Every record in manifest order, shipped or pinned only.
        certificates: The shipped certificates, by slug.
        directory: Where the bundle was read from.
        retired: The CAs old stores may hold that none needs any more (pinned, never shipped).
    """

    cas: tuple[NhsCa, ...]
    certificates: dict[str, x509.Certificate] = attrs.field(repr=False)
    directory: Path
    retired: tuple[RetiredCa, ...] = ()
    # Built with the catalogue, not on first use: a cached_property on a slotted attrs class
    # needs attrs 23.2, and this costs a few microseconds once.
    _pin_index: _PinIndex = attrs.field(
        init=False,
        repr=False,
        eq=False,
        default=attrs.Factory(lambda self: _index_pins(self.cas), takes_self=True),
    )
    _subject_index: dict[str, NhsCa] = attrs.field(
        init=False,
        repr=False,
        eq=False,
        default=attrs.Factory(
            lambda self: _index_subjects(self.cas, self.certificates), takes_self=True
        ),
    )

    _retired_index: dict[str, RetiredCa] = attrs.field(
        init=False,
        repr=False,
        eq=False,
        default=attrs.Factory(
            lambda self: {ca.sha256: ca for ca in reversed(self.retired)}, takes_self=True
        ),
    )

    def __iter__(self) -> Iterator[NhsCa]:
        """Iterate over every record in manifest order."""
        return iter(self.cas)

    def get(self, slug: str) -> NhsCa:
        """Return the record with this slug.

        Raises:
            KeyError: No CA has that slug.
        """
        for ca in self.cas:
            if ca.slug == slug:
                return ca
        raise KeyError(slug)

    def select(
        self,
        environment: Environment | str,
        generations: Iterable[Generation | str] = (Generation.G1, Generation.G2),
        *,
        purpose: str = "authentication",
    ) -> tuple[tuple[NhsCa, x509.Certificate], ...]:
        """The shipped CAs an environment's trust store holds, in catalogue order.

        Args:
            environment: ``prod``, ``int``, ``dep``, ``dev`` or ``tra``.
            generations: Which hierarchies: G1, G2 or both (the default).
            purpose: ``authentication`` (TLS; the default) or ``signing``.

        Raises:
            ValueError: An unknown environment or generation.
        """
        env = Environment(environment)
        wanted = {Generation(g) for g in generations}
        if not wanted:
            msg = "at least one generation (g1, g2) must be selected"
            raise ValueError(msg)
        return tuple(
            (ca, self.certificates[ca.slug])
            for ca in self.cas
            if env in ca.environments
            and ca.generation in wanted
            and ca.purpose == purpose
            and ca.slug in self.certificates
        )

    def recognise(self, certificate: x509.Certificate) -> NhsCa | None:
        """Return the catalogue's record of this certificate, matched by pinned fingerprint."""
        return self.recognise_der(certificate.public_bytes(Encoding.DER))

    def recognise_der(self, der: bytes, sha256: str | None = None) -> NhsCa | None:
        """The record of the certificate with this DER (and SHA-256, if already at hand).

        The first record in manifest order whose pin matches: its SHA-256 where it has one,
        else its SHA-1. Looked up in an index, so that a store of 100,000 certificates does
        not walk the catalogue for each.
        """
        by_sha256, by_sha1 = self._pin_index
        matches = [by_sha256.get(sha256 or hashlib.sha256(der).hexdigest())]
        if by_sha1:
            matches.append(by_sha1.get(hashlib.sha1(der).hexdigest()))  # noqa: S324 - a pin
        found = [match for match in matches if match is not None]
        return min(found, key=lambda match: match[0])[1] if found else None

    def retirement(self, certificate: x509.Certificate) -> RetiredCa | None:
        """The record of this certificate if it is a retired CA (by pinned SHA-256), else None.

        A retired CA can go from any store: nothing NHS England runs today chains to it.
        """
        return self.retirement_of(
            hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()
        )

    def retirement_of(self, sha256: str) -> RetiredCa | None:
        """The retired CA whose pinned SHA-256 (lower-case hex) this is, if any."""
        return self._retired_index.get(sha256.lower())

    def claimed_by(self, subject: x509.Name | str) -> NhsCa | None:
        """The NHS CA whose shipped certificate has this subject (a Name, or RFC 4514), if any.

        A certificate carrying that subject is that CA only if :meth:`recognise` says so (its
        fingerprint is the pin); otherwise it is a look-alike claiming the name. Subjects are
        compared as RFC 4514 strings in a canonical form (compatibility-normalised, case-folded,
        spaces collapsed), as chain builders compare names (RFC 5280 7.1, OpenSSL's
        ``X509_NAME_cmp``): ``O=nhs`` for ``O=NHS`` or another string type still claims.
        """
        text = subject if isinstance(subject, str) else subject.rfc4514_string()
        return self._subject_index.get(_canonical_subject(text))


def _record(entry: dict[str, object], manifest: Path, index: int) -> NhsCa:
    where = f"{manifest}: ca[{index}]"
    unknown = set(entry) - _FIELDS
    if unknown:
        msg = f"{where}: unknown keys {sorted(unknown)}"
        raise MalformedInputError(msg, source=str(manifest))
    try:
        sha256 = entry.get("sha256")
        sha1 = entry.get("sha1")
        if sha256 is None and sha1 is None:
            msg = f"{where}: every CA needs a pinned sha256 (or sha1) fingerprint"
            raise MalformedInputError(msg, source=str(manifest))
        environments = entry["environments"]
        if not isinstance(environments, list):
            msg = f"{where}: environments must be a list"
            raise MalformedInputError(msg, source=str(manifest))
        return NhsCa(
            slug=str(entry["slug"]),
            name=str(entry["name"]),
            environments=tuple(Environment(e) for e in environments),
            generation=Generation(str(entry["generation"])),
            role=str(entry["role"]),
            purpose=str(entry["purpose"]),
            sha256=str(sha256).lower() if sha256 is not None else None,
            sha1=str(sha1).lower() if sha1 is not None else None,
            file=str(entry["file"]) if "file" in entry else None,
        )
    except KeyError as exc:
        msg = f"{where}: missing key {exc.args[0]!r}"
        raise MalformedInputError(msg, source=str(manifest)) from None
    except ValueError as exc:
        msg = f"{where}: {exc}"
        raise MalformedInputError(msg, source=str(manifest)) from None


def _retired_record(entry: dict[str, object], manifest: Path, index: int) -> RetiredCa:
    where = f"{manifest}: retired[{index}]"
    unknown = set(entry) - _RETIRED_FIELDS
    missing = _RETIRED_FIELDS - set(entry)
    if unknown or missing:
        problem = (
            f"unknown keys {sorted(unknown)}" if unknown else f"missing keys {sorted(missing)}"
        )
        msg = f"{where}: {problem}"
        raise MalformedInputError(msg, source=str(manifest))
    expired = entry["expired"]
    sha256 = str(entry["sha256"]).lower()
    if not isinstance(expired, dt.date) or isinstance(expired, dt.datetime):
        msg = f"{where}: expired must be a TOML date (2024-06-04)"
        raise MalformedInputError(msg, source=str(manifest))
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        msg = f"{where}: sha256 must be 64 hex digits"
        raise MalformedInputError(msg, source=str(manifest))
    return RetiredCa(
        slug=str(entry["slug"]),
        name=str(entry["name"]),
        sha256=sha256,
        expired=expired,
        why=str(entry["why"]),
    )


def load_nhs_catalogue(directory: str | os.PathLike[str] | None = None) -> NhsCatalogue:
    """Read the manifest and every shipped certificate, checking each one against its pin.

    Args:
        directory: A bundle directory to read instead of the shipped one: a user catalogue
            that ``nhs update`` / :func:`~truststore_builder.write_catalogue` wrote, or a copy
            of the bundle with files such as NHS Signing G2 added.

    Raises:
        PinMismatchError: A certificate's fingerprint differs from its pin (names the file).
        InputError: The manifest or a certificate file cannot be read.
    """
    import tomllib  # noqa: PLC0415 - start-up time: only when the catalogue is first loaded

    directory = Path(directory) if directory is not None else bundle_directory()
    manifest = directory / _MANIFEST
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except OSError as exc:
        msg = f"{manifest}: cannot read the NHS catalogue manifest ({exc.strerror})"
        raise InputError(msg, source=str(manifest)) from None
    except tomllib.TOMLDecodeError as exc:
        msg = f"{manifest}: not valid TOML ({exc})"
        raise MalformedInputError(msg, source=str(manifest)) from None
    cas = tuple(_record(entry, manifest, i) for i, entry in enumerate(data.get("ca", [])))
    certificates: dict[str, x509.Certificate] = {}
    for ca in cas:
        if ca.file is None:
            continue
        path = directory / ca.file
        try:
            certificate = x509.load_pem_x509_certificate(path.read_bytes())
        except OSError as exc:
            msg = f"{path}: cannot read NHS catalogue certificate {ca.name} ({exc.strerror})"
            raise InputError(msg, source=str(path)) from None
        except ValueError:
            msg = f"{path}: NHS catalogue certificate {ca.name} is not a valid PEM certificate"
            raise MalformedInputError(msg, source=str(path)) from None
        der = certificate.public_bytes(Encoding.DER)
        actual = hashlib.sha256(der).hexdigest() if ca.sha256 else hashlib.sha1(der).hexdigest()  # noqa: S324
        pinned = ca.sha256 or ca.sha1
        if actual != pinned:
            msg = (
                f"{path}: refused: its fingerprint {actual} does not match the pin for "
                f"{ca.name} ({pinned}); this is not the genuine certificate"
            )
            raise PinMismatchError(msg, source=str(path))
        certificates[ca.slug] = certificate
    retired = tuple(
        _retired_record(entry, manifest, i) for i, entry in enumerate(data.get("retired", []))
    )
    return NhsCatalogue(cas=cas, certificates=certificates, directory=directory, retired=retired)


def _toml_string(text: str) -> str:
    r"""A TOML basic string: quote and backslash escaped, control characters as ``\uXXXX``."""

    def escape(ch: str) -> str:
        if ch in '"\\':
            return "\\" + ch
        if ord(ch) < 0x20 or ch == "\x7f":  # noqa: PLR2004 - the C0 controls
            return f"\\u{ord(ch):04x}"
        return ch

    return '"' + "".join(escape(ch) for ch in text) + '"'


def _comment(text: str) -> list[str]:
    return [f"# {line}".rstrip() for line in text.splitlines()]


def _manifest_file(ca: NhsCa, certificates: Mapping[str, x509.Certificate]) -> str | None:
    """The file name a record's certificate is written under, or None for one pinned only."""
    if ca.slug not in certificates:
        return None
    return ca.file or f"{ca.slug}.pem"


def catalogue_manifest(
    catalogue: NhsCatalogue, *, header: str = "", notes: Mapping[str, str] | None = None
) -> str:
    """The ``manifest.toml`` that describes ``catalogue`` as :func:`load_nhs_catalogue` reads it.

    Args:
        catalogue: The catalogue to describe (its records in order, its retired CAs).
        header: Comment lines at the top (where the catalogue came from).
        notes: Comment lines above a record, by slug (why it was added, from which file).
    """
    notes = notes or {}
    lines = [*_comment(header), ""] if header else []
    for ca in catalogue.cas:
        lines += [*_comment(notes.get(ca.slug, "")), "[[ca]]"]
        lines.append(f"slug = {_toml_string(ca.slug)}")
        lines.append(f"name = {_toml_string(ca.name)}")
        environments = ", ".join(_toml_string(e.value) for e in ca.environments)
        lines.append(f"environments = [{environments}]")
        lines.append(f"generation = {_toml_string(ca.generation.value)}")
        lines.append(f"role = {_toml_string(ca.role)}")
        lines.append(f"purpose = {_toml_string(ca.purpose)}")
        if ca.sha256 is not None:
            lines.append(f"sha256 = {_toml_string(ca.sha256)}")
        if ca.sha1 is not None:
            lines.append(f"sha1 = {_toml_string(ca.sha1)}")
        file = _manifest_file(ca, catalogue.certificates)
        if file is not None:
            lines.append(f"file = {_toml_string(file)}")
        lines.append("")
    for retired in catalogue.retired:
        lines += [
            "[[retired]]",
            f"slug = {_toml_string(retired.slug)}",
            f"name = {_toml_string(retired.name)}",
            f"sha256 = {_toml_string(retired.sha256)}",
            f"expired = {retired.expired.isoformat()}",
            f"why = {_toml_string(retired.why)}",
            "",
        ]
    return "\n".join(lines)


def write_nhs_catalogue(
    catalogue: NhsCatalogue,
    directory: Path,
    *,
    overwrite: bool = False,
    header: str = "",
    notes: Mapping[str, str] | None = None,
) -> NhsCatalogue:
    """Write ``catalogue`` as a bundle directory (manifest and PEM files), then load it back.

    The directory is written whole or not at all (a temporary sibling renamed into place),
    and read back with :func:`load_nhs_catalogue`, which checks every file against its pin,
    before this returns. A record whose pin is SHA-1 only and whose certificate is at hand is
    pinned by both, its SHA-256 computed from the file that matched the SHA-1 pin.

    Args:
        catalogue: What to write.
        directory: The bundle directory to create (or, with ``overwrite``, replace).
        overwrite: Replace a directory that is not empty.
        header: Comment lines at the top of the manifest.
        notes: Comment lines above a record, by slug.

    Returns:
        The catalogue as loaded from ``directory``.

    Raises:
        OutputExistsError: ``directory`` exists, is not empty and ``overwrite`` is false.
        OutputError: The directory cannot be written.
    """
    files: dict[str, bytes] = {}
    records = []
    for ca in catalogue.cas:
        certificate = catalogue.certificates.get(ca.slug)
        record = ca
        if certificate is not None:
            der = certificate.public_bytes(Encoding.DER)
            if record.sha256 is None:
                record = attrs.evolve(record, sha256=hashlib.sha256(der).hexdigest())
            files[_manifest_file(ca, catalogue.certificates) or ""] = certificate.public_bytes(
                Encoding.PEM
            )
        records.append(record)
    described = attrs.evolve(catalogue, cas=tuple(records))
    files[_MANIFEST] = catalogue_manifest(described, header=header, notes=notes).encode()
    write_directory_atomically(directory, files, overwrite=overwrite)
    return load_nhs_catalogue(directory)


@functools.cache
def nhs_catalogue() -> NhsCatalogue:
    """Return the shipped NHS catalogue, loaded once and checked against every pin."""
    return load_nhs_catalogue()
