"""Whether a file already on disk holds what a build would write there: then it is left alone.

A password-protected PKCS#12 differs at every build (fresh salts and IVs), and so do a JKS
key entry's protection and an encrypted key file. A deployment that watches its files would
restart its service for nothing. So before a build replaces a file, the file is compared with
what the build made, in one of two ways, never by encoding it again:

- the same bytes (PEM, PKCS#7, a JKS trust store, a password-less PKCS#12, CApath's files);
- or, for a format whose writer draws random bytes, the existing file read *with the
  build's password* through its format's codec (``Codec.content_summary``): the same key
  entries (alias, key, chain), the same certificates (alias, trusted or not, in order) and the
  same protection (PKCS#12 MAC and encryption algorithms, KDF, iterations; JCEKS's iterations),
  every salt and IV left out. A file that does not read with that password (a changed
  password, another file) is not the same.

A file holding a private key whose mode lets anyone but its owner read it is not the same
either: a rewrite makes it 0600. Nothing here writes; nothing here shows a password.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
from typing import TYPE_CHECKING, NamedTuple

from cryptography.hazmat.primitives import serialization

from truststore_builder._errors import TruststoreBuilderError
from truststore_builder._formats.codec import Codec
from truststore_builder._formats.keys import load_private_key
from truststore_builder._formats.pkcs12 import (
    MAX_KEY_ITERATIONS,
    encrypted_key_protection,
    encrypted_private_key_iterations,
)
from truststore_builder._formats.registry import codec_for, directory_codec
from truststore_builder._sources.files import read_input

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from truststore_builder._model import StoreFormat

__all__ = ["Existing", "compare_existing", "compare_existing_directory"]


class Existing(NamedTuple):
    """What is at a destination, compared with what a build would write there.

    Attributes:
        same: True when a reader would find exactly what the build made (leave it alone).
        reason: Why it is not the same, in words (never holding a password).
        sha256: SHA-256 of the existing file's bytes (of a directory's names and bytes).
    """

    same: bool
    reason: str = ""
    sha256: str = ""


def compare_existing(
    path: Path,
    planned: bytes,
    *,
    private: bool,
    store_format: StoreFormat | None = None,
    password: bytes | None = None,
    key_password: bytes | None = None,
    key_pem: bool = False,
) -> Existing | None:
    """Compare the file at ``path`` with ``planned``; None when nothing is there.

    Args:
        path: The destination.
        planned: What the build would write.
        private: The file holds a private key (it must be 0600 to count as the same).
        store_format: The store format ``planned`` is in, whose codec summarises what a file
            holds (None for a PEM chain or key file).
        password: The build's store password (or the key file's).
        key_password: A JKS or JCEKS key entry's own password.
        key_pem: ``planned`` is a private key PEM (encrypted when ``password`` is given).
    """
    status = _lstat(path)
    if status is None:
        return None
    if stat.S_ISLNK(status.st_mode) or not stat.S_ISREG(status.st_mode):
        return Existing(same=False, reason="it is not a regular file")
    try:
        data = read_input(path, what="existing file")
    except TruststoreBuilderError:
        return Existing(same=False, reason="it cannot be read")
    digest = hashlib.sha256(data).hexdigest()
    if private and stat.S_IMODE(status.st_mode) & 0o077:
        mode = f"{stat.S_IMODE(status.st_mode):04o}"
        return Existing(same=False, reason=f"its mode is {mode}, not 0600", sha256=digest)
    if data == planned:
        return Existing(same=True, sha256=digest)
    summary = _summary(store_format, password, key_password, key_pem=key_pem)
    reason = _difference(summary, data, planned, str(path))
    return Existing(same=reason is None, reason=reason or "", sha256=digest)


def _difference(
    summary: Callable[[bytes, str], object] | None, data: bytes, planned: bytes, source: str
) -> str | None:
    """Why ``data`` does not hold what ``planned`` holds, or None when it does."""
    if summary is None:
        return "its content differs"
    try:
        existing = summary(data, source)
    except (TruststoreBuilderError, ValueError):
        return "it does not read with this build's password as this format"
    if existing != summary(planned, "<planned>"):
        return "its content or protection differs"
    return None


def compare_existing_directory(path: Path, planned: Mapping[str, bytes]) -> Existing | None:
    """Compare a CApath directory with the files a build would put there; None when absent."""
    status = _lstat(path)
    if status is None:
        return None
    if not stat.S_ISDIR(status.st_mode):
        return Existing(same=False, reason="it is not a directory")
    try:
        files = directory_codec("capath").read(path)
    except (TruststoreBuilderError, OSError, ValueError):
        return Existing(same=False, reason="it cannot be read")
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name])
    same = dict(files) == dict(planned)
    return Existing(same=same, reason="" if same else "its files differ", sha256=digest.hexdigest())


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _summary(
    store_format: StoreFormat | None,
    password: bytes | None,
    key_password: bytes | None,
    *,
    key_pem: bool,
) -> Callable[[bytes, str], object] | None:
    """How to summarise a file's content under the build's passwords, or None: bytes decide."""
    if key_pem:
        if not password:
            return None
        secret = password
        return lambda data, source: _key_pem_summary(data, secret, source)
    if store_format is None:
        return None
    codec = codec_for(store_format)
    if not isinstance(codec, Codec) or codec.content_summary is None:
        return None
    summarise = codec.content_summary
    return lambda data, source: summarise(data, password, key_password, source)


_ENCRYPTED_KEY = re.compile(
    rb"-----BEGIN ENCRYPTED PRIVATE KEY-----(.+?)-----END ENCRYPTED PRIVATE KEY-----", re.DOTALL
)


def _key_pem_summary(data: bytes, password: bytes, source: str) -> object:
    """An encrypted PKCS#8 PEM key: its key, and its encryption with the salt and IV left out.

    Raises:
        ValueError: Not one encrypted PKCS#8 key, or one asking for too much key derivation.
        TruststoreBuilderError: The password does not decrypt it.
    """
    blocks = _ENCRYPTED_KEY.findall(data)
    if len(blocks) != 1:
        msg = "not one encrypted PKCS#8 key"
        raise ValueError(msg)
    der = base64.b64decode(blocks[0], validate=False)
    iterations = encrypted_private_key_iterations(der)
    if iterations is None or iterations > MAX_KEY_ITERATIONS:
        msg = "an unreadable or too costly key encryption"
        raise ValueError(msg)
    key = load_private_key(data, password, source)
    plain = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return (plain, encrypted_key_protection(der))
