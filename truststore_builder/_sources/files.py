"""Source: certificates from files, directories and bytes, in any format we read.

The format is told from the content alone, never from the file name: ``.crt`` files are PEM as
often as DER, and ``.pem`` files are sometimes DER.
"""

from __future__ import annotations

import contextlib
import os
import stat
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from truststore_builder._errors import (
    InputError,
    InvalidPasswordError,
    MalformedInputError,
    NoCertificatesError,
    TruststoreBuilderWarning,
    UnknownFormatError,
)
from truststore_builder._formats import asn1, der, pem
from truststore_builder._formats.keys import load_private_key
from truststore_builder._formats.registry import file_codec
from truststore_builder._model import StoreEntry, StoreFormat, as_password_bytes, sha256_fingerprint

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from truststore_builder._formats.keys import PrivateKey

__all__ = [
    "MAX_INPUT_SIZE",
    "check_names_decode",
    "detect_format",
    "input_name",
    "load_certificates",
    "read_identities",
    "read_input",
    "read_named_password",
    "read_private_key",
    "read_store",
]

#: The largest file read, in bytes (256 MiB). The biggest real stores are a few megabytes (the
#: JDK's cacerts: 200 KB; 100,000 certificates as a commented PEM bundle: about 110 MB); a larger
#: "store" is refused before it is read, rather than filling memory.
MAX_INPUT_SIZE = 256 * 2**20
_FILE_KINDS = {
    stat.S_IFIFO: "FIFO (named pipe)",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFSOCK: "socket",
}
_BYTES_SOURCE = "<bytes>"
_BOM = b"\xef\xbb\xbf"
_SEQUENCE = 0x30
#: What :func:`detect_format` calls each store format it tells (its names predate StoreFormat).
_DETECTED_NAMES = {
    StoreFormat.PEM: "pem",
    StoreFormat.PKCS7: "pkcs7",
    StoreFormat.PKCS12: "pkcs12",
    StoreFormat.JKS: "jks",
    StoreFormat.JCEKS: "jceks",
}
_DETECTED_FORMATS = {name: store_format for store_format, name in _DETECTED_NAMES.items()}
#: Per-file errors that skip a file in a directory (with a warning) instead of failing the whole
#: directory: a README or a CRL beside the certificates is normal. A broken certificate is not
#: skipped: silently dropping a CA from a trust store is worse than stopping.
_SKIPPABLE = (UnknownFormatError, NoCertificatesError)


def detect_format(data: bytes, source: str = _BYTES_SOURCE) -> str:
    """Tell the format of certificate content from its bytes alone.

    Args:
        data: The content.
        source: The file name (or ``<bytes>``) for messages.

    Returns:
        One of ``pem``, ``der``, ``pkcs7``, ``pkcs12``, ``jks`` or ``jceks``. PEM text holding a
        ``PKCS7`` block is ``pkcs7``.

    Raises:
        NoCertificatesError: ``data`` is empty.
        MalformedInputError: ``data`` starts like DER but is cut short before anything can be
            told.
        UnknownFormatError: ``data`` is none of those formats.
    """
    if not data.removeprefix(_BOM).strip():
        msg = f"{source}: is empty"
        raise NoCertificatesError(msg, source=source)
    for java in (StoreFormat.JKS, StoreFormat.JCEKS):
        if file_codec(java).looks_like(data):
            return _DETECTED_NAMES[java]
    # Binary formats first: their structure is checked, whereas "-----BEGIN" could be text
    # inside a DER certificate's subject. A PKCS#12 PFX starts SEQUENCE, INTEGER: neither sniff
    # below matches it.
    if file_codec(StoreFormat.PKCS7).looks_like(data):
        return _DETECTED_NAMES[StoreFormat.PKCS7]
    if der.looks_like_der_certificate(data):
        return "der"
    labels = pem.BEGIN_LINE.findall(data.removeprefix(_BOM))
    if labels:
        return "pkcs7" if b"PKCS7" in labels else "pem"
    _refuse_short_sequence(data, source)
    # Asked last, so that reading PEM, DER and PKCS#7 never loads the PKCS#12 module.
    if file_codec(StoreFormat.PKCS12).looks_like(data):
        return _DETECTED_NAMES[StoreFormat.PKCS12]
    if data[0] == _SEQUENCE:
        _refuse_other_der(data, source)
    # What the file is not, never what it holds: a password file given as a store is a
    # secret, and so are its first bytes.
    msg = (
        f"{source}: unknown format: not PEM, DER, PKCS#7, PKCS#12, JKS or JCEKS "
        f"({len(data)} bytes of {_content_kind(data)}; the content is not shown)"
    )
    raise UnknownFormatError(msg, source=source)


def _refuse_other_der(data: bytes, source: str) -> None:
    """Name DER that is no certificate format (a key, a CSR, a CRL) or is cut short."""
    other = der.describe_other_der(data)
    if other is not None:
        der.refuse_other_der(other, source)
    header = asn1.read_header(data)
    if header is not None and header[1] + header[2] > len(data):
        msg = (
            f"{source}: starts like DER (an ASN.1 SEQUENCE) but is truncated "
            f"after {len(data)} bytes"
        )
        raise MalformedInputError(msg, source=source)


def _content_kind(data: bytes) -> str:
    """``text`` or ``binary data``: enough to tell an HTML page from a store, nothing more."""
    sample = data[:4096]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 3:  # not just a character cut by the sample's end
            return "binary data"
        text = sample[: exc.start].decode("utf-8")
    return "text" if all(c.isprintable() or c in "\t\r\n" for c in text) else "binary data"


def _refuse_short_sequence(data: bytes, source: str) -> None:
    """Refuse a DER SEQUENCE cut off before its first element: no format can be told from it."""
    if data[0] != _SEQUENCE:
        return
    outer = asn1.read_header(data)
    if outer is None or asn1.read_header(data, outer[1]) is None:
        msg = (
            f"{source}: is cut short: {len(data)} bytes of an ASN.1 SEQUENCE (DER), "
            "too few to tell its format"
        )
        raise MalformedInputError(msg, source=source)


def _entries_from_data(data: bytes, source: str, password: bytes | None) -> list[StoreEntry]:
    with warnings.catch_warnings():
        # Policy: a certificate whose serial is zero or negative is read as it is, as Java and
        # OpenSSL read it (RFC 5280 asks users to handle such certificates gracefully; two
        # Mozilla roots have serial 0). cryptography's deprecation warning about it would say
        # nothing actionable, and under -W error would escape as a bare exception.
        warnings.filterwarnings("ignore", "Parsed a serial number which wasn't positive")
        entries = _read_entries(data, source, password)
        check_names_decode([entry.certificate for entry in entries], source)
        return entries


def check_names_decode(certificates: Sequence[x509.Certificate], source: str) -> None:
    """Refuse a certificate whose subject or issuer name cryptography cannot decode.

    cryptography parses a certificate's names only when they are first asked for, so such a
    certificate (a long-form tag, a string type it does not know, invalid UTF-8 in a
    UTF8String) loads, and would fail later, in ``inspect`` or a build, with a bare ValueError.
    The names are read from a copy parsed for the purpose: cryptography keeps what it parses on
    the certificate object, which would cost every certificate read some 2 KB for good.

    Raises:
        MalformedInputError: A name cannot be decoded; the message names the file and the
            certificate (by position and SHA-256 fingerprint).
    """
    for index, certificate in enumerate(certificates, 1):
        der = certificate.public_bytes(Encoding.DER)
        probe = x509.load_der_x509_certificate(der)
        for part in ("subject", "issuer"):
            try:
                with warnings.catch_warnings():
                    # Only whether it decodes matters here; cryptography's remarks on what it
                    # decodes (a country name of the wrong length) come when the name is used.
                    warnings.simplefilter("ignore")
                    getattr(probe, part)
            except (ValueError, KeyError, TypeError):
                # KeyError: cryptography up to 45.0.x, for an unsupported string tag;
                # TypeError: a BIT STRING value under any type but x500UniqueIdentifier.
                fingerprint = sha256_fingerprint(probe)
                msg = (
                    f"{source}: certificate {index} (SHA-256 {fingerprint}): its {part} name "
                    "cannot be decoded (a long-form tag, an unsupported string type, a value "
                    "of the wrong type or invalid UTF-8)"
                )
                raise MalformedInputError(msg, source=source) from None


def _read_entries(data: bytes, source: str, password: bytes | None) -> list[StoreEntry]:
    kind = detect_format(data, source)
    if kind == "der":  # one certificate, not a store format
        return [
            StoreEntry(alias="", certificate=der.load_der_certificate(data, source), trusted=True)
        ]
    codec = file_codec(_DETECTED_FORMATS[kind])
    return _non_empty(codec.read(data, password, source), source)


def _non_empty(entries: list[StoreEntry], source: str) -> list[StoreEntry]:
    if not entries:
        msg = f"{source}: the store holds no certificate"
        raise NoCertificatesError(msg, source=source)
    return entries


def _read_bytes(path: Path, what: str = "input file") -> bytes:
    """Read a whole regular file of at most :data:`MAX_INPUT_SIZE` bytes: the one place we do.

    A FIFO, a device (``/dev/zero``), a socket or a directory is refused before a byte is read:
    such a "file" can be endless or block forever. The file is opened non-blocking, so that a
    FIFO swapped in after the check cannot hang the read, and its type and size are checked
    again on the open descriptor.
    """
    source = str(path)
    try:
        _check_regular(path.stat(), source, what)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        msg = f"{source}: cannot read ({exc.strerror or exc})"
        raise InputError(msg, source=source) from None
    try:
        status = os.fstat(fd)
        _check_regular(status, source, what)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(MAX_INPUT_SIZE + 1)
    except OSError as exc:
        msg = f"{source}: cannot read ({exc.strerror or exc})"
        raise InputError(msg, source=source) from None
    finally:
        os.close(fd)
    if len(data) > MAX_INPUT_SIZE:
        _refuse_size(source, what)
    return data


def _check_regular(status: os.stat_result, source: str, what: str) -> None:
    """Refuse a path that is no regular file, or a file over the size limit."""
    if stat.S_ISDIR(status.st_mode):
        msg = f"{source}: is a directory; the {what} must be a regular file"
        raise InputError(msg, source=source)
    if not stat.S_ISREG(status.st_mode):
        kind = _FILE_KINDS.get(stat.S_IFMT(status.st_mode), "special file")
        msg = f"{source}: is a {kind}; the {what} must be a regular file"
        raise InputError(msg, source=source)
    if status.st_size > MAX_INPUT_SIZE:
        _refuse_size(source, what)


def _refuse_size(source: str, what: str) -> NoReturn:
    msg = (
        f"{source}: is larger than {MAX_INPUT_SIZE // 2**20} MiB, the limit for the {what} "
        "(far above any real store); refused unread"
    )
    raise InputError(msg, source=source)


def _directory_files(directory: Path) -> list[Path]:
    """The regular files directly in ``directory``, sorted, hidden ones and duplicates left out."""
    try:
        children = sorted(directory.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        msg = f"{directory}: cannot list the directory ({exc.strerror or exc})"
        raise InputError(msg, source=str(directory)) from None
    candidates = [c for c in children if not c.name.startswith(".") and c.is_file()]
    # An OpenSSL hash directory links <hash>.0 to the real file: read the file, skip the link.
    real_files = {c.resolve() for c in candidates if not c.is_symlink()}
    files: list[Path] = []
    seen: set[Path] = set()
    for child in candidates:
        target = child.resolve()
        if (child.is_symlink() and target in real_files) or target in seen:
            continue
        seen.add(target)
        files.append(child)
    return files


def _entries_from_directory(directory: Path, password: bytes | None) -> list[StoreEntry]:
    entries: list[StoreEntry] = []
    for path in _directory_files(directory):
        try:
            entries += _entries_from_data(_read_bytes(path), str(path), password)
        except _SKIPPABLE as exc:
            warnings.warn(
                f"{directory}: skipped a file that holds no certificate: {exc}",
                TruststoreBuilderWarning,
                stacklevel=4,
            )
    if not entries:
        msg = f"{directory}: the directory holds no certificate file"
        raise NoCertificatesError(msg, source=str(directory))
    return entries


def read_store(
    source: str | os.PathLike[str] | bytes, *, password: str | bytes | None = None
) -> list[StoreEntry]:
    """Read every certificate entry from a file, a directory or bytes, keeping aliases.

    PKCS#12, JKS and JCEKS entries keep their aliases and trust flags. PEM certificates take
    the alias named by the ``# Alias:`` line of the comment header above them (as this library
    writes PEM bundles), else ``""``; DER and PKCS#7 certificates have alias ``""``. PEM, DER
    and PKCS#7 certificates count as trusted.

    Args:
        source: A file path, a directory (every regular, non-hidden file in it, in name order,
            not recursing; files that hold no certificate are skipped with a warning), or the
            content itself as bytes.
        password: The store password, for PKCS#12, JKS and JCEKS.

    Returns:
        The entries, in file order.

    Raises:
        InputError: The path cannot be read, or the content cannot be read (one of the
            subclasses: unknown format, malformed, no certificates, wrong or missing password).
    """
    secret = as_password_bytes(password)
    if isinstance(source, bytes):
        return _entries_from_data(source, _BYTES_SOURCE, secret)
    path = Path(source)
    if path.is_dir():
        return _entries_from_directory(path, secret)
    return _entries_from_data(_read_bytes(path), str(path), secret)


def load_certificates(
    source: str | os.PathLike[str] | bytes, *, password: str | bytes | None = None
) -> list[x509.Certificate]:
    """Read every certificate from a file, a directory or bytes, in any format we read.

    Args:
        source: A file path, a directory (see :func:`read_store`), or the content as bytes.
        password: The store password, for PKCS#12, JKS and JCEKS.

    Returns:
        The certificates, in file order (a store's key entry chains included).

    Raises:
        InputError: As :func:`read_store`.
    """
    return [entry.certificate for entry in read_store(source, password=password)]


def read_input(path: str | os.PathLike[str], *, what: str = "input file") -> bytes:
    """Read a whole input file: every file the library and the command line read comes here.

    Args:
        path: The file.
        what: What the file is, for messages (``input file``, ``password file``, ``recipe``).

    Returns:
        Its bytes.

    Raises:
        InputError: The path cannot be read, is not a regular file (a directory, a FIFO,
            ``/dev/zero``), or is larger than :data:`MAX_INPUT_SIZE`; the message names it.
    """
    return _read_bytes(Path(path), what)


def input_name(source: str | os.PathLike[str] | bytes) -> str:
    """How messages name an input: its path, or ``<bytes>`` for content given directly."""
    return _BYTES_SOURCE if isinstance(source, bytes) else os.fspath(source)


_ENCRYPTED_KEY = "ENCRYPTED PRIVATE KEY"


def read_private_key(
    source: str | os.PathLike[str] | bytes, *, password: str | bytes | None = None
) -> PrivateKey:
    """Read an RSA or EC private key from a PEM or DER file, or from its content as bytes.

    Raises:
        InputError: The file cannot be read, the password is missing or wrong, or the content
            is no private key (see :func:`truststore_builder._formats.keys.load_private_key`).
    """
    data = source if isinstance(source, bytes) else read_input(source, what="key file")
    secret = as_password_bytes(password)
    if secret:
        _refuse_costly_key(data, input_name(source))
    return load_private_key(data, secret, input_name(source))


def _refuse_costly_key(data: bytes, source: str) -> None:
    """Refuse an encrypted PKCS#8 key asking for more iterations than any real key, unread.

    A 1 KB key file with 2^31-1 PBKDF2 iterations would hold cryptography for minutes: the
    count is read from the EncryptedPrivateKeyInfo, by the PKCS#12 module's parser of
    password-based parameters, before anything derives a key.

    Raises:
        MalformedInputError: The key's iteration count (or scrypt work) passes the cap.
    """
    # Start-up time: the PKCS#12 module loads only for an encrypted key.
    from truststore_builder._formats import pkcs12  # noqa: PLC0415 - start-up time: the PKCS#12 module

    ders = [data]  # DER as it stands, or the PKCS#8 blocks of a PEM file
    with contextlib.suppress(MalformedInputError):
        blocks = [b for b in pem.iter_pem_blocks(data, source) if b.label == _ENCRYPTED_KEY]
        ders = [pem.decode_pem_block(block, source) for block in blocks] or ders
    for der_bytes in ders:
        iterations = pkcs12.encrypted_private_key_iterations(der_bytes)
        if iterations is not None and not 1 <= iterations <= pkcs12.MAX_KEY_ITERATIONS:
            msg = (
                f"{source}: the encrypted private key asks for {iterations:,} key-derivation "
                f"iterations, outside 1..{pkcs12.MAX_KEY_ITERATIONS:,}; refused before any runs"
            )
            raise MalformedInputError(msg, source=source)


def read_identities(
    path: str | os.PathLike[str],
    *,
    password: str | bytes,
    key_password: str | bytes | None = None,
    alias: str | None = None,
) -> list[tuple[str, PrivateKey, list[x509.Certificate]]]:
    """The private key entries of a PKCS#12 or JKS key store: (alias, key, chain leaf first).

    With ``alias``, a JKS or JCEKS store's other key entries are not decrypted (their keys may
    be under other passwords); the caller still picks the entry by alias.

    Raises:
        InputError: The file is no key store we read, or cannot be opened with the passwords.
    """
    source = str(path)
    data = read_input(path, what="key store")
    kind = detect_format(data, source)
    secret = as_password_bytes(password) or b""
    store_format = _DETECTED_FORMATS.get(kind)
    read = file_codec(store_format).read_identities if store_format else None
    if read is None:
        msg = (
            f"{source}: a {kind.upper()} file holds no private key; give a PKCS#12 or JKS key store"
        )
        raise InputError(msg, source=source)
    identities = read(data, secret, as_password_bytes(key_password), source, alias)
    check_names_decode([c for _alias, _key, chain in identities for c in chain], source)
    return identities


def read_named_password(
    variable: str | None, path: Path | None, refuse: Callable[[str, str], NoReturn]
) -> bytes | None:
    """The password an environment variable or a file holds; None when neither is named.

    The one reader behind the command line's ``--<option>-env``/``--<option>-file`` and a
    recipe's ``<key>_env``/``<key>_file``. A file loses one trailing newline (LF or CRLF).

    Args:
        variable: The variable's name, or None.
        path: The file, or None (used when ``variable`` is None).
        refuse: Called as ``refuse(kind, problem)`` for a problem, ``kind`` being ``env`` or
            ``file``; it raises. ``problem`` names neither the variable, the path nor the
            value: a password typed where a name or path belongs must not be printed back.
    """
    if variable is not None:
        value = os.environ.get(variable)
        if value is None:
            refuse("env", "the environment variable it names is not set (its name is not shown)")
        if not value:
            refuse("env", "the environment variable it names is empty")
        kind, secret, what = "env", os.fsencode(value), "the value of the variable it names"
    elif path is not None:
        try:
            secret = read_input(path, what="password file")
        except InputError as exc:
            # The reason without the path: a password may have been typed where it belongs.
            reason = str(exc).removeprefix(f"{exc.source}: ")
            refuse("file", f"cannot read the file it names ({reason}; its path is not shown)")
        for ending in (b"\r\n", b"\n"):
            if secret.endswith(ending):
                secret = secret[: -len(ending)]
                break
        if not secret:
            refuse("file", "the file it names is empty")
        kind, what = "file", "the file it names"
    else:
        return None
    try:
        return as_password_bytes(secret, what)
    except InvalidPasswordError as exc:
        refuse(kind, str(exc))
