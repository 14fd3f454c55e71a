"""What every format codec offers, and what a read-back gives to compare with what was meant.

A codec is one format's entry in the table of ``_formats.registry``: it tells whether bytes
look like its format, reads them, writes a trust store (and a key store, where the format
holds keys), and reads back what was written with a reader other than the writer, so that
the comparison in ``_checks`` proves something. CApath, a directory rather than a file, has
a :class:`DirectoryCodec`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import attrs
from cryptography import x509

from truststore_builder._model import PrivateKey, StoreEntry, StoreFormat, TrustedEntry

__all__ = [
    "Codec",
    "DirectoryCodec",
    "KeyEntryReadBack",
    "KeyStoreParts",
    "KeyStoreReadBack",
    "ReadBack",
]


class ReadBack(NamedTuple):
    """What an independent reader found in a serialised trust store.

    Attributes:
        certificates: The certificates, in the order read.
        aliases: The aliases, or None where the format has none (PEM's are comments).
        trusted: Whether each entry is a trusted certificate entry, or None where the format
            does not say.
        ordered: False where the format holds a SET OF certificates (PKCS#7): DER may reorder
            them, so they are compared regardless of order.
    """

    certificates: list[x509.Certificate]
    aliases: list[str] | None = None
    trusted: list[bool] | None = None
    ordered: bool = True


class KeyEntryReadBack(NamedTuple):
    """One private key entry as read back.

    Attributes:
        alias: Its alias.
        chain_length: How many certificates its chain holds.
        key: The key read back, where the reader gives it (the JKS reader instead checks the
            key against its certificate itself).
        chain: The chain read back, where the reader gives it.
    """

    alias: str
    chain_length: int
    key: PrivateKey | None = None
    chain: list[x509.Certificate] | None = None


class KeyStoreReadBack(NamedTuple):
    """What an independent reader found in a serialised key store."""

    key_entries: list[KeyEntryReadBack]
    trusted: list[tuple[str, x509.Certificate]]


@attrs.frozen(repr=False)
class KeyStoreParts:
    """What a key store holds, as a codec writes it (the key never appears in a repr).

    Attributes:
        alias: The key entry's alias.
        key: The private key.
        chain: The key entry's chain, leaf first.
        trusted: ``(alias, certificate)`` of each trusted CA entry.
        password: The store password (never empty).
        key_password: The key entry's password, where the format may give it its own.
        profile: The PKCS#12 encryption profile (other formats have none).
    """

    alias: str
    key: PrivateKey
    chain: Sequence[x509.Certificate]
    trusted: Sequence[tuple[str, x509.Certificate]]
    password: bytes
    key_password: bytes | None = None
    profile: str = "modern"

    def __repr__(self) -> str:
        """The alias and sizes only: never the key or a password."""
        return f"<KeyStoreParts {self.alias!r}: chain of {len(self.chain)}, {len(self.trusted)} trusted>"


@attrs.frozen
class Codec:
    """One file format: sniff, read, write, and read back by another implementation.

    Attributes:
        store_format: The format.
        looks_like: Whether bytes are this format (its magic number or structure).
        read: Read any such file's certificates: ``(data, password, source)``.
        write: Serialise a trust store's entries: ``(entries, password)``.
        read_back: Read what ``write`` wrote with a reader other than the writer:
            ``(data, password, source)``.
        takes_password: Whether a store of this format has a password at all.
        needs_password: Whether a trust store of this format cannot be written without one.
        write_keystore: Serialise a key store, where the format holds private keys.
        read_back_keystore: Read a written key store back independently:
            ``(data, password, key_password, source)``.
        read_identities: Read any such key store's private key entries as
            ``(alias, key, chain leaf first)``: ``(data, password, key_password, source,
            alias)``, where a reader may decrypt only the entry ``alias`` names (JKS does).
        content_summary: What a file of this format holds and how it is protected, its
            random salts and IVs left out, checking the passwords: ``(data, password,
            key_password, source)``. Equal summaries under the same passwords mean a
            rebuild would change nothing a reader sees; None where the writer draws no
            random bytes (equal bytes are then the test).
    """

    store_format: StoreFormat
    looks_like: Callable[[bytes], bool]
    read: Callable[[bytes, bytes | None, str], list[StoreEntry]]
    write: Callable[[Sequence[TrustedEntry], bytes | None], bytes]
    read_back: Callable[[bytes, bytes | None, str], ReadBack]
    takes_password: bool = False
    needs_password: bool = False
    write_keystore: Callable[[KeyStoreParts], bytes] | None = None
    read_back_keystore: Callable[[bytes, bytes, bytes | None, str], KeyStoreReadBack] | None = None
    read_identities: (
        Callable[
            [bytes, bytes, bytes | None, str, str | None],
            list[tuple[str, PrivateKey, list[x509.Certificate]]],
        ]
        | None
    ) = None
    content_summary: Callable[[bytes, bytes | None, bytes | None, str], object] | None = None
    #: A file, not a directory (see :class:`DirectoryCodec`).
    directory = False


@attrs.frozen
class DirectoryCodec:
    """A format that is a directory of files (OpenSSL's CApath).

    Attributes:
        store_format: The format.
        write: The directory's files for a trust store's entries: name to content.
        read: The files of such a directory on disk: name to content.
        read_back: Check the files as their consumer will look them up, and give back the
            certificates: ``(files, source)``.
    """

    store_format: StoreFormat
    write: Callable[[Sequence[TrustedEntry]], dict[str, bytes]]
    read: Callable[[Path], dict[str, bytes]]
    read_back: Callable[[Mapping[str, bytes], str], ReadBack]
    takes_password = False
    needs_password = False
    directory = True
