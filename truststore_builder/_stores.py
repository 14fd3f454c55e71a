"""The built stores, and how they become bytes and files: serialised, read back, then written.

:class:`TrustStore` and :class:`KeyStore` are what the builders make. They serialise through
the format codecs (``_formats``), prove each result reads back as meant (``_checks``) before
anything reaches the disk, write through the atomic file layer (``_writing``) and render
through ``_report``. They sit above the checks and below the builders: a value below them
never reaches up here to write itself.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from truststore_builder import _checks
from truststore_builder._deprecation import warn_deprecated
from truststore_builder._errors import CheckError, MissingPasswordError
from truststore_builder._formats.codec import Codec, KeyStoreParts
from truststore_builder._formats.keys import serialize_private_key_pem
from truststore_builder._formats.registry import codec_for, directory_codec, file_codec
from truststore_builder._model import (
    CLIENT_FILES,
    Identity,
    IdentityReport,
    StoreFormat,
    TrustedEntry,
    as_password_bytes,
    is_self_signed,
)
from truststore_builder._report import (
    keystore_html,
    keystore_summary,
    keystore_text,
    store_html,
    store_summary,
    store_text,
)
from truststore_builder._writing import check_destinations, write_files, write_outputs

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = [
    "KeyStore",
    "TrustStore",
    "serialize_capath",
    "serialize_keystore",
    "serialize_store",
    "serialize_targets",
    "write_stores",
]


@attrs.frozen(repr=False)
class TrustStore:
    """A built trust store: checked, de-duplicated and ordered entries, ready to write.

    Build one with :class:`TrustStoreBuilder`. The order of ``entries`` is the order every
    writer uses: NHS catalogue certificates first, in catalogue order (prod, then PTL;
    G1 before G2; each root before its intermediates), then every other certificate sorted by
    subject and fingerprint, except that a certificate comes after the entries that issued it
    (so a private CA's root precedes its "Authentication" intermediate).

    Attributes:
        entries: The entries, in store order.
        validated_at: The time expiry was judged at.
        dropped: Entries left out because they were not valid at ``validated_at``: NHS CAs
            added without naming their generation (prod G1 today), and every expired
            certificate when the builder was asked to drop them.
    """

    entries: tuple[TrustedEntry, ...]
    validated_at: dt.datetime
    dropped: tuple[TrustedEntry, ...] = ()

    def __len__(self) -> int:
        """Number of entries."""
        return len(self.entries)

    def __iter__(self) -> Iterator[TrustedEntry]:
        """Iterate over the entries in store order."""
        return iter(self.entries)

    @property
    def certificates(self) -> tuple[x509.Certificate, ...]:
        """The certificates, in store order."""
        return tuple(entry.certificate for entry in self.entries)

    @property
    def expired(self) -> tuple[TrustedEntry, ...]:
        """Entries not valid at ``validated_at`` (expired, or not yet valid)."""
        return tuple(e for e in self.entries if not e.is_valid_at(self.validated_at))

    def __repr__(self) -> str:
        """``<TrustStore 4 entries, 2 expired, validated 2026-11-23>``."""
        return f"<TrustStore {store_summary(self, date_only=True)}>"

    def __str__(self) -> str:
        """A summary line, then a readable table of the entries, one line each."""
        return store_text(self)

    def _repr_html_(self) -> str:
        """Jupyter's view: the entries as an HTML table, expired and expiring ones marked."""
        return store_html(self)

    def serialize(
        self, store_format: StoreFormat | str, password: str | bytes | None = None
    ) -> bytes:
        """Serialise the store in one format and prove it reads back as meant.

        Args:
            store_format: ``pem``, ``p12``, ``jks``, ``jceks`` or ``p7b``.
            password: The store password. PKCS#12 without one is truly password-less (no
                integrity MAC at all); JKS and JCEKS require one.

        Returns:
            The file's bytes.

        Raises:
            MissingPasswordError: JKS or JCEKS without a password.
            ReadBackError: The serialised store does not read back as these entries.
        """
        return serialize_store(self, StoreFormat(store_format), password)

    def to_pem(self) -> bytes:
        """The PEM bundle: a comment header above each certificate, byte-identical per input."""
        return self.serialize(StoreFormat.PEM)

    def to_pkcs12(self, password: str | bytes | None = None) -> bytes:
        """The PKCS#12 Java trust store: each certificate a trustedCertEntry for Java."""
        return self.serialize(StoreFormat.PKCS12, password)

    def to_jks(self, password: str | bytes) -> bytes:
        """The JKS trust store (every entry a trustedCertEntry)."""
        return self.serialize(StoreFormat.JKS, password)

    def to_pkcs7(self) -> bytes:
        """The certificates as a DER PKCS#7 (.p7b) bundle."""
        return self.serialize(StoreFormat.PKCS7)

    def to_capath(self) -> dict[str, bytes]:
        """The OpenSSL CApath directory's files, read back: ``<subject-hash>.N`` to PEM bytes."""
        return serialize_capath(self)

    def write(
        self,
        path: str | Path,
        store_format: StoreFormat | str | None = None,
        *,
        password: str | bytes | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Serialise, read back, then write the store to ``path`` atomically.

        Missing parent directories are created (and removed again if the write fails).

        Args:
            path: Destination file (for ``capath``, the directory to create or replace).
            store_format: The format; inferred from the suffix when None.
            password: The store password (see :meth:`serialize`).
            overwrite: Replace an existing file. Without it an existing file is an error.

        Returns:
            The path written.

        Raises:
            OutputExistsError: ``path`` exists and ``overwrite`` is false.
        """
        fmt = StoreFormat(store_format) if store_format else StoreFormat.from_path(path)
        (written,) = write_stores(self, {Path(path): fmt}, password=password, overwrite=overwrite)
        return written


@attrs.frozen(repr=False)
class KeyStore:
    """A checked client identity with its verified chain and the CAs it should trust.

    Build one with :class:`KeyStoreBuilder`; every identity rule has passed (or was allowed).

    Attributes:
        identity: The private key and certificate.
        chain: The verified chain, leaf first, up to and including the root.
        trust_store: The trusted CA entries (the environment's G1+G2 issuers, plus any added).
        report: What the identity checks found.
    """

    identity: Identity
    chain: tuple[x509.Certificate, ...] = attrs.field(repr=False)
    trust_store: TrustStore
    report: IdentityReport

    @property
    def truststore(self) -> TrustStore:
        """Deprecated: use :attr:`trust_store` (this name goes in the next release)."""
        warn_deprecated("KeyStore.truststore", "KeyStore.trust_store")
        return self.trust_store

    @property
    def alias(self) -> str:
        """The key entry's alias."""
        return self.identity.alias

    def __repr__(self) -> str:
        """Alias, subject, key type and size, expiry, chain length, trusted CAs; never the key."""
        return f"<KeyStore {keystore_summary(self)}>"

    def __str__(self) -> str:
        """The identity, the verified chain, the trusted CAs and the checks, as text tables."""
        return keystore_text(self)

    def _repr_html_(self) -> str:
        """Jupyter's view: identity, chain and trusted CAs as HTML tables, expiry marked."""
        return keystore_html(self)

    def chain_pem(self) -> bytes:
        """The client chain as PEM, leaf first, root left out (what TLS clients present)."""
        presented = [self.chain[0], *(c for c in self.chain[1:] if not is_self_signed(c))]
        return b"".join(c.public_bytes(Encoding.PEM) for c in presented)

    def to_pkcs12(
        self,
        password: str | bytes,
        *,
        profile: str = "modern",
        include_trusted: bool = True,
    ) -> bytes:
        """The PKCS#12 key store: the key entry with its chain, and the trusted CA entries.

        Args:
            password: Store (and key) password; required.
            profile: ``modern`` (AES-256, PBKDF2, SHA-256 MAC), ``legacy`` (3DES, SHA-1 MAC),
                or a consumer's name such as ``java8``, ``windows2016`` or ``openssl3``.
            include_trusted: Add the trusted G1+G2 CAs as Java trustedCertEntry entries.
        """
        return serialize_keystore(
            self, StoreFormat.PKCS12, password, profile=profile, include_trusted=include_trusted
        )

    def to_jks(
        self,
        password: str | bytes,
        *,
        key_password: str | bytes | None = None,
        include_trusted: bool = True,
    ) -> bytes:
        """The JKS key store the MESH Java client reads: key entry plus trusted CAs, one file.

        Args:
            password: The store password; required.
            key_password: The key entry's password (default: the store password, which is what
                the MESH client and most Java code assume).
            include_trusted: Add the trusted G1+G2 CAs as trustedCertEntry entries.
        """
        return serialize_keystore(
            self,
            StoreFormat.JKS,
            password,
            key_password=key_password,
            include_trusted=include_trusted,
        )

    def key_pem(self, password: str | bytes | None = None) -> bytes:
        """The private key as PKCS#8 PEM, encrypted (AES-256) when a password is given."""
        return serialize_private_key_pem(self.identity.key, as_password_bytes(password))

    def write(
        self,
        directory: str | Path,
        *,
        password: str | bytes | None = None,
        formats: tuple[str, ...] = ("p12", "jks", "pem"),
        key_password: str | bytes | None = None,
        profile: str = "modern",
        key_pem_password: str | bytes | None = None,
        overwrite: bool = False,
    ) -> list[Path]:
        """Write the client's files into ``directory``, all checked before any is written.

        ``p12`` writes ``keystore.p12``, ``jks`` writes ``keystore.jks``, ``jceks`` writes
        ``keystore.jceks`` (each with the trusted CAs), ``pem`` writes ``client-chain.pem``
        (leaf first), ``client-key.pem`` and ``truststore.pem`` (the CA bundle). Files holding
        the private key are created 0600; ``directory`` and its missing parents are created 0700
        (and removed again if the write fails). ``password`` is required for the key stores.

        Returns:
            The paths written.
        """
        folder = Path(directory)
        planned: list[tuple[Path, bytes, bool]] = []
        for name in formats:
            fmt = StoreFormat(name)
            if fmt not in CLIENT_FILES:
                msg = f"a client's files are written as pem, p12, jks or jceks, not {fmt.value}"
                raise ValueError(msg)
            for file_name, holds in CLIENT_FILES[fmt]:
                if holds == "client-chain-pem":
                    planned.append((folder / file_name, self.chain_pem(), False))
                elif holds == "client-key-pem":
                    planned.append((folder / file_name, self.key_pem(key_pem_password), True))
                else:
                    data = serialize_keystore(
                        self, fmt, password, key_password=key_password, profile=profile
                    )
                    planned.append((folder / file_name, data, True))
            if fmt is StoreFormat.PEM:
                planned.append((folder / "truststore.pem", self.trust_store.to_pem(), False))
        return write_files(planned, overwrite=overwrite)


def serialize_store(
    store: TrustStore, store_format: StoreFormat, password: str | bytes | None
) -> bytes:
    """Serialise ``store`` in ``store_format`` and check it reads back as the same entries.

    Raises:
        ValueError: ``capath``, which is a directory (see :func:`serialize_capath`).
        MissingPasswordError: JKS or JCEKS without a password.
        ReadBackError: What was written does not read back as what was meant.
    """
    codec = file_codec(store_format)
    secret = as_password_bytes(password)
    if codec.needs_password and not secret:
        msg = (
            f"a {store_format.name} store needs a password, and none was given "
            "(Java's conventional 'changeit' is never assumed)"
        )
        raise MissingPasswordError(msg)
    data = codec.write(store.entries, secret)
    _checks.check_read_back(store, store_format, data, secret)
    return data


def serialize_capath(store: TrustStore) -> dict[str, bytes]:
    """The OpenSSL CApath directory's files for ``store``, checked as OpenSSL will look them up.

    Returns:
        File name (``<subject-hash>.N``) to a one-certificate PEM, in store order.

    Raises:
        CheckError: OpenSSL cannot read a certificate's subject, so it cannot be looked up.
        ReadBackError: The files do not read back as the store's certificates under their hashes.
    """
    try:
        files = directory_codec(StoreFormat.CAPATH).write(store.entries)
    except ValueError as exc:
        raise CheckError(str(exc)) from None
    _checks.check_capath_read_back(store, files, "<capath read-back>")
    return files


def serialize_targets(
    store: TrustStore, targets: Mapping[Path, StoreFormat], password: str | bytes | None
) -> tuple[list[tuple[Path, bytes, bool]], list[tuple[Path, dict[str, bytes]]]]:
    """Serialise and read back ``store`` for every target; nothing is written.

    Returns:
        ``(path, data, private)`` per file target and ``(path, files)`` per directory target
        (``capath``), as :func:`~truststore_builder._writing.write_outputs` takes them.
    """
    files = [
        (path, serialize_store(store, fmt, password), False)
        for path, fmt in targets.items()
        if not codec_for(fmt).directory
    ]
    directories = [
        (path, serialize_capath(store)) for path, fmt in targets.items() if codec_for(fmt).directory
    ]
    return files, directories


def write_stores(
    store: TrustStore,
    targets: Mapping[Path, StoreFormat],
    *,
    password: str | bytes | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Serialise and check every target first, then write them all; nothing is written on error.

    A ``capath`` target is a directory, written whole by :func:`write_directory_atomically`.

    Returns:
        The paths written, in the order given.
    """
    # Every destination before any serialising: a refusal comes back fast.
    check_destinations(
        [path for path, fmt in targets.items() if not codec_for(fmt).directory],
        [path for path, fmt in targets.items() if codec_for(fmt).directory],
        overwrite=overwrite,
    )
    planned, capaths = serialize_targets(store, targets, password)
    write_outputs(planned, capaths, overwrite=overwrite)
    return list(targets)


def serialize_keystore(
    keystore: KeyStore,
    store_format: StoreFormat,
    password: str | bytes | None,
    *,
    key_password: str | bytes | None = None,
    profile: str = "modern",
    include_trusted: bool = True,
) -> bytes:
    """Serialise a key store (key entry + chain, and the trusted CAs) and prove it reads back.

    Raises:
        MissingPasswordError: No password: a key store is never written without one (Java
            reads a password-less PKCS#12 key bag as an empty store).
        ValueError: A format that cannot hold a key entry, or an unknown PKCS#12 profile.
        ReadBackError: What was written does not read back as what was meant.
    """
    secret = as_password_bytes(password)
    if not secret:
        msg = (
            f"a {store_format.name} key store needs a password, and none was given: without "
            "one Java reads the key entry as an empty store"
        )
        raise MissingPasswordError(msg)
    codec = codec_for(store_format)
    write = codec.write_keystore if isinstance(codec, Codec) else None
    if write is None:
        msg = f"a key store is written as p12, jks or jceks, not {store_format.value}"
        raise ValueError(msg)
    trusted = (
        [(entry.alias, entry.certificate) for entry in keystore.trust_store.entries]
        if include_trusted
        else []
    )
    key_secret = as_password_bytes(key_password)
    identity = keystore.identity
    data = write(
        KeyStoreParts(
            alias=identity.alias,
            key=identity.key,
            chain=keystore.chain,
            trusted=trusted,
            password=secret,
            key_password=key_secret,
            profile=profile,
        )
    )
    _checks.check_keystore_read_back(keystore, store_format, data, secret, key_secret, trusted)
    return data
