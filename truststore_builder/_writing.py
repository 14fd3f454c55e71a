"""Serialising stores and writing files: atomically, never half-written, never clobbering.

Every file is written to a temporary file in the destination's own directory, flushed to disk
(fsync) and renamed over the destination, so a reader sees the old file or the whole new one.
All serialisation and every read-back check runs before the first file is touched.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING, Self

from truststore_builder._errors import (
    CheckError,
    MissingPasswordError,
    OutputError,
    OutputExistsError,
)
from truststore_builder._model import StoreFormat, as_password_bytes

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from truststore_builder._model import KeyStore, TrustStore

__all__ = [
    "StagedFiles",
    "serialize_capath",
    "serialize_keystore",
    "serialize_store",
    "write_atomically",
    "write_directory_atomically",
    "write_files",
    "write_outputs",
    "write_stores",
]


def serialize_store(
    store: TrustStore, store_format: StoreFormat, password: str | bytes | None
) -> bytes:
    """Serialise ``store`` in ``store_format`` and check it reads back as the same entries.

    Raises:
        MissingPasswordError: JKS or JCEKS without a password.
        ReadBackError: What was written does not read back as what was meant.
    """
    from truststore_builder import _checks  # noqa: PLC0415

    if store_format is StoreFormat.CAPATH:
        msg = "a capath store is a directory of files, not one file: use to_capath() or write()"
        raise ValueError(msg)
    secret = as_password_bytes(password)
    pairs = [(entry.alias, entry.certificate) for entry in store.entries]
    if store_format is StoreFormat.PEM:
        from truststore_builder._formats import pem  # noqa: PLC0415

        data = pem.serialize_pem_bundle(store.entries)
    elif store_format is StoreFormat.PKCS7:
        from truststore_builder._formats import pkcs7  # noqa: PLC0415

        data = pkcs7.serialize_pkcs7(store.certificates)
    elif store_format is StoreFormat.PKCS12:
        from truststore_builder._formats import pkcs12  # noqa: PLC0415

        data = pkcs12.serialize_pkcs12_truststore(pairs, secret)
    else:
        if not secret:
            msg = (
                f"a {store_format.name} store needs a password, and none was given "
                "(Java's conventional 'changeit' is never assumed)"
            )
            raise MissingPasswordError(msg)
        from truststore_builder._formats import jks  # noqa: PLC0415

        data = jks.serialize_jks_truststore(pairs, secret, store_type=store_format.value)
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
    from truststore_builder import _checks  # noqa: PLC0415
    from truststore_builder._formats import capath  # noqa: PLC0415

    try:
        files = capath.capath_files(store.entries)
    except ValueError as exc:
        raise CheckError(str(exc)) from None
    _checks.check_capath_read_back(store, files, "<capath read-back>")
    return files


def _exists_error(path: Path) -> OutputExistsError:
    """The one refusal for a destination that exists when replacing it was not asked for."""
    msg = f"{path}: already exists; pass overwrite (--force) to replace it"
    return OutputExistsError(msg, source=str(path))


def _refuse_existing(paths: Iterable[Path]) -> None:
    """Raise for the first of ``paths`` that exists (the caller has not asked to overwrite)."""
    for path in paths:
        if path.exists():
            raise _exists_error(path)


def _publish_without_replacing(temporary: Path, path: Path) -> None:
    """Give the finished file its name unless that name exists: a hard link never clobbers."""
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise _exists_error(path) from None
    except OSError:
        # Filesystems without hard links: check, then rename (a narrow race, no worse).
        _refuse_existing([path])
        temporary.replace(path)


def _remove_orphaned_temporaries(directory: Path, names: Iterable[str]) -> None:
    """Delete temporaries of ``names`` left in ``directory`` by writers killed mid-write.

    A temporary is named ``.<name>.<pid>.<random>.tmp``. A killed process runs no clean-up, so
    the next write to the same destination removes those whose writing process is gone; a
    live concurrent writer's temporary is left alone. One listing of the directory serves
    every name, so writing a thousand files into one directory lists it once, not a thousand
    times.
    """
    wanted = {f".{name}." for name in names}
    try:
        with os.scandir(directory) as listing:
            candidates = [
                entry.name
                for entry in listing
                if entry.name.startswith(".") and entry.name.endswith(".tmp")
            ]
    except OSError:
        return
    for candidate in candidates:
        # ".<name>.<pid>.<random>.tmp": try each split of the name, as a name may hold dots.
        stem = candidate[: -len(".tmp")]
        prefix, _, _random = stem.rpartition(".")
        head, _, pid_text = prefix.rpartition(".")
        if f"{head}." not in wanted:
            continue
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                (directory / candidate).unlink()
        except OSError:
            continue  # alive, but another user's process


def _stage(path: Path, data: bytes, *, private: bool) -> Path:
    """Write ``data`` to a new temporary beside ``path``, flushed to disk; return its path.

    Raises:
        OutputError: The directory cannot be written.
    """
    import tempfile  # noqa: PLC0415 - it imports shutil, bz2 and lzma: only when writing

    directory = path.parent if str(path.parent) else Path()
    try:
        fd, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=directory
        )
    except OSError as exc:
        msg = f"{path}: cannot write into {directory} ({exc.strerror})"
        raise OutputError(msg, source=str(path)) from None
    try:
        # mkstemp creates 0600; public files get the usual 0644 less the umask.
        if not private:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o644 & ~umask)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise
    return Path(temporary)


def write_atomically(path: Path, data: bytes, *, overwrite: bool, private: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync and rename.

    Args:
        path: Destination.
        data: The whole content.
        overwrite: Replace an existing file; without it an existing file is an error.
        private: Create the file with mode 0600 whatever the umask (it holds a private key).

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is false.
        OutputError: The directory cannot be written.
    """
    write_files([(path, data, private)], overwrite=overwrite)


def _check_directory_target(path: Path, *, overwrite: bool) -> None:
    """Refuse a directory destination that must not be replaced.

    Raises:
        OutputExistsError: Something not a plain directory is there (a file, a symbolic link),
            or a directory that is not empty and ``overwrite`` is false.
    """
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        kind = "a symbolic link" if path.is_symlink() else "not a directory"
        msg = f"{path}: exists and is {kind}; the capath directory will not replace it"
        raise OutputExistsError(msg, source=str(path))
    if not overwrite and path.is_dir() and any(path.iterdir()):
        msg = f"{path}: a directory that is not empty; pass overwrite (--force) to replace it"
        raise OutputExistsError(msg, source=str(path))


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def write_directory_atomically(path: Path, files: Mapping[str, bytes], *, overwrite: bool) -> None:
    """Create directory ``path`` holding exactly ``files``, as a whole or not at all.

    The files are written and fsynced into a temporary sibling directory, which is then renamed
    to ``path``. With ``overwrite`` an existing directory is renamed aside first, the new one
    renamed in, and the old one removed (it is put back if the new one cannot be renamed in).
    A reader sees the old directory, the new one, or for an instant none; never a mixture.

    Args:
        path: The directory to create or replace.
        files: File name to content; public files (0644 less the umask).
        overwrite: Replace a directory that is not empty; without it only a missing or an
            empty directory is replaced.

    Raises:
        OutputExistsError: See :func:`_check_directory_target`.
        OutputError: The parent directory cannot be written.
    """
    import tempfile  # noqa: PLC0415 - it imports shutil, bz2 and lzma: only when writing

    _check_directory_target(path, overwrite=overwrite)
    parent = path.parent if str(path.parent) else Path()
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent))
    except OSError as exc:
        msg = f"{path}: cannot write into {parent} ({exc.strerror})"
        raise OutputError(msg, source=str(path)) from None
    umask = os.umask(0)
    os.umask(umask)
    published = False
    aside: Path | None = None
    try:
        staging.chmod(0o755 & ~umask)
        for name, data in files.items():
            fd = os.open(staging / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644 & ~umask)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        _fsync_directory(staging)
        if overwrite and path.is_dir() and any(path.iterdir()):
            aside = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=parent))
            path.replace(aside)
        try:
            # rename() replaces a missing or empty directory, and refuses a non-empty one.
            staging.rename(path)
        except OSError as exc:
            if aside is not None:
                aside.replace(path)
                aside = None
            if exc.errno in {errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR}:
                msg = f"{path}: appeared while writing; pass overwrite (--force) to replace it"
                raise OutputExistsError(msg, source=str(path)) from None
            msg = f"{path}: cannot create the directory ({exc.strerror})"
            raise OutputError(msg, source=str(path)) from None
        published = True
        _fsync_directory(parent)
    finally:
        import shutil  # noqa: PLC0415 - see tempfile above

        if not published:
            shutil.rmtree(staging, ignore_errors=True)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)


def write_outputs(
    planned: Sequence[tuple[Path, bytes, bool]],
    directories: Sequence[tuple[Path, Mapping[str, bytes]]],
    *,
    overwrite: bool = False,
) -> list[Path]:
    """Write files and whole directories, every destination checked before the first write.

    Args:
        planned: ``(path, data, private)`` per file, as for :func:`write_files`.
        directories: ``(path, files)`` per directory, as for :func:`write_directory_atomically`.
        overwrite: Replace existing files and non-empty directories.

    Returns:
        The file paths, then the directory paths, in order.

    Raises:
        OutputExistsError: A destination may not be replaced (nothing is written).
    """
    if not overwrite:
        _refuse_existing(path for path, _, _ in planned)
    for path, _ in directories:
        _check_directory_target(path, overwrite=overwrite)
    written = write_files(planned, overwrite=overwrite)
    for path, files in directories:
        write_directory_atomically(path, files, overwrite=overwrite)
        written.append(path)
    return written


class StagedFiles:
    """Files written to hidden temporaries now, and given their names together later, or never.

    :meth:`stage` writes a file's content to a temporary beside its destination and flushes it
    to disk (fsync); :meth:`publish` renames every staged file into place and flushes each
    directory once. Leaving the ``with`` block without publishing removes the temporaries, so
    no destination changes. A batch stages each file as soon as it is ready, while the rest
    are still being made, and names them all at the end.

    Args:
        overwrite: Replace existing destinations; without it an existing one is an error.
    """

    def __init__(self, *, overwrite: bool) -> None:
        self._overwrite = overwrite
        self._staged: list[tuple[Path, Path]] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.discard()

    def __repr__(self) -> str:
        return f"<StagedFiles: {len(self._staged)} staged>"

    def stage(self, path: Path, data: bytes, *, private: bool = False) -> None:
        """Write ``data`` to a temporary for ``path`` (0600 if ``private``).

        Raises:
            OutputError: The directory cannot be written.
        """
        self._staged.append((_stage(path, data, private=private), path))

    def publish(self) -> list[Path]:
        """Rename every staged file into place; return the destinations, in staging order.

        Raises:
            OutputExistsError: A destination appeared and ``overwrite`` is false.
        """
        staged = self._staged
        directories: dict[Path, list[str]] = {}
        for _, path in staged:
            directory = path.parent if str(path.parent) else Path()
            directories.setdefault(directory, []).append(path.name)
        for directory, names in directories.items():
            _remove_orphaned_temporaries(directory, names)
        try:
            for temporary, path in staged:
                if self._overwrite:
                    temporary.replace(path)
                else:
                    _publish_without_replacing(temporary, path)
        finally:
            self.discard()  # the temporaries of a hard-linked file, or of a failed publish
        for directory in directories:
            _fsync_directory(directory)
        return [path for _, path in staged]

    def discard(self) -> None:
        """Remove every staged temporary that was not renamed (nothing is published)."""
        for temporary, _ in self._staged:
            with contextlib.suppress(OSError):
                temporary.unlink()
        self._staged = []


def write_files(
    planned: Sequence[tuple[Path, bytes, bool]], *, overwrite: bool = False
) -> list[Path]:
    """Write already-serialised files, all or none: every destination is checked first.

    Every file's content goes to its temporary and is flushed to disk (fsync) before the first
    file is given its name; then each is renamed into place, and each directory is flushed
    once (see :class:`StagedFiles`). A failure while staging removes the temporaries, so no
    destination changes.

    Args:
        planned: ``(path, data, private)`` per file; private files are created 0600.
        overwrite: Replace existing files.

    Returns:
        The paths written, in order.

    Raises:
        OutputExistsError: A destination exists and ``overwrite`` is false (nothing is written).
        OutputError: A directory cannot be written (nothing is written).
    """
    if not overwrite:
        _refuse_existing(path for path, _, _ in planned)
    with StagedFiles(overwrite=overwrite) as staged:
        for path, data, private in planned:
            staged.stage(path, data, private=private)
        return staged.publish()


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
    files = {path: fmt for path, fmt in targets.items() if fmt is not StoreFormat.CAPATH}
    directories = [path for path, fmt in targets.items() if fmt is StoreFormat.CAPATH]
    if not overwrite:
        _refuse_existing(files)
    for path in directories:
        _check_directory_target(path, overwrite=overwrite)
    planned = [(path, serialize_store(store, fmt, password), False) for path, fmt in files.items()]
    capaths = [(path, serialize_capath(store)) for path in directories]
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
    from truststore_builder import _checks  # noqa: PLC0415

    secret = as_password_bytes(password)
    if not secret:
        msg = (
            f"a {store_format.name} key store needs a password, and none was given: without "
            "one Java reads the key entry as an empty store"
        )
        raise MissingPasswordError(msg)
    key_secret = as_password_bytes(key_password)
    trusted = (
        [(entry.alias, entry.certificate) for entry in keystore.truststore.entries]
        if include_trusted
        else []
    )
    identity = keystore.identity
    if store_format is StoreFormat.PKCS12:
        from truststore_builder._formats import pkcs12  # noqa: PLC0415

        if key_secret and key_secret != secret:
            msg = "a PKCS#12 key store has one password: the key password must equal the store password"
            raise ValueError(msg)
        data = pkcs12.serialize_pkcs12_keystore(
            alias=identity.alias,
            key=identity.key,
            chain=keystore.chain,
            trusted=trusted,
            password=secret,
            profile=profile,
        )
    elif store_format in (StoreFormat.JKS, StoreFormat.JCEKS):
        from truststore_builder._formats import jks  # noqa: PLC0415

        data = jks.serialize_jks_keystore(
            alias=identity.alias,
            key=identity.key,
            chain=keystore.chain,
            trusted=trusted,
            password=secret,
            key_password=key_secret,
            store_type=store_format.value,
        )
    else:
        msg = f"a key store is written as p12, jks or jceks, not {store_format.value}"
        raise ValueError(msg)
    _checks.check_keystore_read_back(keystore, store_format, data, secret, key_secret, trusted)
    return data
