"""Writing files: atomically, never half-written, never clobbering.

Every file is written to a temporary file in the destination's own directory, flushed to disk
(fsync) and renamed over the destination, so a reader sees the old file or the whole new one.
This is a low layer: it knows bytes and paths, not stores. The stores (``_stores``) serialise
and read back everything before they hand the bytes here.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Self

from truststore_builder._errors import OVERWRITE_REMEDY, OutputError, OutputExistsError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "StagedFiles",
    "check_destinations",
    "make_directories",
    "remove_directories",
    "write_atomically",
    "write_directory_atomically",
    "write_files",
    "write_outputs",
]


def _exists_error(path: Path) -> OutputExistsError:
    """The one refusal for a destination that exists when replacing it was not asked for."""
    return OutputExistsError(f"{path}: already exists", source=str(path), remedy=OVERWRITE_REMEDY)


def _write_error(path: Path, exc: OSError, doing: str = "cannot write it") -> OutputError:
    """A failure of writing, labelled as output and naming the destination (ENOSPC, EACCES)."""
    msg = f"{path}: {doing} ({exc.strerror or exc})"
    return OutputError(msg, source=str(path))


def _lstat(path: Path) -> os.stat_result | None:
    """The destination's own status (a symbolic link's, not its target's), or None if absent."""
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _refuse_existing(paths: Iterable[Path]) -> None:
    """Raise for the first of ``paths`` that exists, a dangling symbolic link included."""
    for path in paths:
        if _lstat(path) is not None:
            raise _exists_error(path)


def check_destinations(
    files: Iterable[Path], directories: Iterable[Path] = (), *, overwrite: bool
) -> None:
    """Refuse, before anything is made, destinations the writers would refuse when publishing.

    Raises:
        OutputExistsError: A file destination is a directory, or exists and ``overwrite`` is
            false; a directory destination is not a directory, or is not empty and
            ``overwrite`` is false (``os.lstat``: a dangling symbolic link exists too).
    """
    files = list(files)
    _refuse_unreplaceable(files)
    if not overwrite:
        _refuse_existing(files)
    for path in directories:
        _check_directory_target(path, overwrite=overwrite)


def _refuse_unreplaceable(paths: Iterable[Path]) -> None:
    """Raise for the first of ``paths`` that a file cannot replace: a directory."""
    for path in paths:
        status = _lstat(path)
        if status is not None and stat.S_ISDIR(status.st_mode):
            msg = f"{path}: is a directory, which a file never replaces"
            raise OutputExistsError(msg, source=str(path))


def make_directories(path: Path, *, private: bool = False) -> list[Path]:
    """Create ``path`` and its missing parents, 0755 (0700 if ``private``) whatever the umask.

    Args:
        path: The directory.
        private: It will hold private keys: only its owner may list or enter it.

    Returns:
        The directories created, outermost first (empty when ``path`` existed).

    Raises:
        OutputError: A directory cannot be created (what was created is removed again).
    """
    mode = 0o700 if private else 0o755
    missing = [d for d in (path, *path.parents) if _lstat(d) is None]
    created: list[Path] = []
    try:
        for folder in reversed(missing):
            folder.mkdir()
            created.append(folder)
            folder.chmod(mode)  # mkdir's mode is cut by the umask; chmod's is not
    except OSError as exc:
        remove_directories(created)
        msg = f"{path}: cannot create the directory ({exc.strerror or exc})"
        raise OutputError(msg, source=str(path)) from None
    return created


def remove_directories(created: Sequence[Path]) -> None:
    """Remove directories :func:`make_directories` created, innermost first, if still empty."""
    for folder in reversed(created):
        with contextlib.suppress(OSError):
            folder.rmdir()


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

    A temporary (and a set-aside copy of a replaced file) is named
    ``.<name>.<pid>.<random>.tmp``. A killed process runs no clean-up, so the next write to the
    same destination removes those whose writing process is gone; a live concurrent writer's
    temporary is left alone. One listing of the directory serves every name, so writing a
    thousand files into one directory lists it once, not a thousand times.
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


def _write_all(fd: int, data: bytes) -> None:
    """Write ``data`` to ``fd`` whole and flush it to disk (a short write is retried)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)


def _stage(path: Path, data: bytes, *, private: bool) -> Path:
    """Write ``data`` to a new temporary beside ``path``, flushed to disk; return its path.

    Raises:
        OutputError: The directory or the disk cannot take it (nothing is left behind).
    """
    import tempfile  # noqa: PLC0415 - start-up time: it imports shutil, bz2 and lzma: only when writing

    directory = path.parent if str(path.parent) else Path()
    try:
        fd, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=directory
        )
    except OSError as exc:
        raise _write_error(path, exc, f"cannot write into {directory}") from None
    try:
        # mkstemp creates 0600; public files get the usual 0644 less the umask.
        if not private:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o644 & ~umask)
        _write_all(fd, data)
    except OSError as exc:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise _write_error(path, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise
    finally:
        os.close(fd)
    return Path(temporary)


def _stage_directory(path: Path, files: Mapping[str, bytes]) -> Path:
    """Write ``files`` into a new temporary directory beside ``path``, flushed; return it.

    Raises:
        OutputError: The parent directory or the disk cannot take it (nothing is left behind).
    """
    import shutil  # noqa: PLC0415 - start-up time: see tempfile in _stage
    import tempfile  # noqa: PLC0415 - start-up time: tempfile

    parent = path.parent if str(path.parent) else Path()
    try:
        staging = Path(
            tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=parent)
        )
    except OSError as exc:
        raise _write_error(path, exc, f"cannot write into {parent}") from None
    umask = os.umask(0)
    os.umask(umask)
    try:
        staging.chmod(0o755 & ~umask)
        for name, data in files.items():
            fd = os.open(staging / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644 & ~umask)
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
        _fsync_directory(staging)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise _write_error(path, exc) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


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
        OutputExistsError: Something not a plain directory is there (a file, a symbolic link,
            a dangling one included), or a directory that is not empty and ``overwrite`` is
            false.
    """
    status = _lstat(path)
    if status is None:
        return
    if not stat.S_ISDIR(status.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(status.st_mode) else "not a directory"
        msg = f"{path}: exists and is {kind}; the capath directory will not replace it"
        raise OutputExistsError(msg, source=str(path))
    if not overwrite and any(path.iterdir()):
        msg = f"{path}: a directory that is not empty"
        raise OutputExistsError(msg, source=str(path), remedy=OVERWRITE_REMEDY)


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
    write_outputs([], [(path, files)], overwrite=overwrite)


def write_outputs(
    planned: Sequence[tuple[Path, bytes, bool]],
    directories: Sequence[tuple[Path, Mapping[str, bytes]]],
    *,
    overwrite: bool = False,
) -> list[Path]:
    """Write files and whole directories, all or none: every destination checked first.

    Missing parent directories are created (0755, or 0700 for one that will hold a private
    file, whatever the umask) after every check has passed, and removed again if the writing
    fails, so a failure leaves no new directory behind.

    Args:
        planned: ``(path, data, private)`` per file, as for :func:`write_files`.
        directories: ``(path, files)`` per directory, as for :func:`write_directory_atomically`.
        overwrite: Replace existing files and non-empty directories.

    Returns:
        The file paths, then the directory paths, in order.

    Raises:
        OutputExistsError: A destination may not be replaced (nothing is written).
        OutputError: A destination cannot be written (nothing is written, nothing replaced).
    """
    check_destinations(
        [path for path, _, _ in planned], [path for path, _ in directories], overwrite=overwrite
    )
    holds_keys: dict[Path, bool] = {}
    for path, _, private in planned:
        holds_keys[path.parent] = holds_keys.get(path.parent, False) or private
    for path, _ in directories:
        holds_keys.setdefault(path.parent, False)
    created: list[Path] = []
    try:
        for parent, private in holds_keys.items():
            created += make_directories(parent, private=private)
        with StagedFiles(overwrite=overwrite) as staged:
            for path, data, private in planned:
                staged.stage(path, data, private=private)
            for path, files in directories:
                staged.stage_directory(path, files)
            return staged.publish()
    except BaseException:
        remove_directories(created)  # empty again: the temporaries are gone, nothing published
        raise


class _Published:
    """One destination given its new content, and how to undo that until the set is complete."""

    def __init__(self, path: Path, aside: Path | None, identity: tuple[int, int] | None) -> None:
        self.path = path
        self.aside = aside  # the old content, set aside; None when there was none
        self.identity = identity  # (device, inode) of what was published, to remove only that

    def undo(self) -> None:
        """Put back what was there: the old content, or nothing."""
        import shutil  # noqa: PLC0415 - start-up time: see tempfile in _stage

        if self.aside is not None:
            if self.aside.is_dir() and not self.aside.is_symlink():
                shutil.rmtree(self.path, ignore_errors=True)
            self.aside.replace(self.path)
            self.aside = None
            return
        status = _lstat(self.path)
        if status is not None and (status.st_dev, status.st_ino) == self.identity:
            if stat.S_ISDIR(status.st_mode):
                shutil.rmtree(self.path, ignore_errors=True)
            else:
                self.path.unlink()

    def forget(self) -> None:
        """The set is complete: drop the old content."""
        import shutil  # noqa: PLC0415 - start-up time: see tempfile in _stage

        if self.aside is None:
            return
        if self.aside.is_dir() and not self.aside.is_symlink():
            shutil.rmtree(self.aside, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                self.aside.unlink()


def _aside_name(path: Path) -> Path:
    """A hidden name beside ``path`` for its old content (removed as an orphan if we die)."""
    import secrets  # noqa: PLC0415 - start-up time: only when replacing

    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}old.tmp")


def _keep_aside(path: Path) -> Path | None:
    """Keep the old content of ``path`` under another name while it stays in place.

    A hard link (a symbolic link is linked itself, not followed); where hard links are refused
    (another user's file under protected_hardlinks, a filesystem without them) a copy.

    Raises:
        OutputError: The old content can be neither linked nor copied (so nothing is replaced).
    """
    import shutil  # noqa: PLC0415 - start-up time: see tempfile in _stage

    status = _lstat(path)
    if status is None or stat.S_ISDIR(status.st_mode):
        return None
    aside = _aside_name(path)
    try:
        os.link(path, aside, follow_symlinks=False)
    except OSError:
        try:
            if stat.S_ISLNK(status.st_mode):
                aside.symlink_to(path.readlink())
            else:
                shutil.copy2(path, aside)
        except OSError as exc:
            with contextlib.suppress(OSError):
                aside.unlink()
            raise _write_error(
                path, exc, "cannot keep its old content to restore on failure"
            ) from None
    return aside


def _publish_directory(staging: Path, path: Path) -> Path | None:
    """Rename a staged directory to ``path``; return where the old one was set aside, if any.

    Raises:
        OutputExistsError: A non-empty directory appeared at ``path`` meanwhile.
        OutputError: The rename failed (the old directory is back in place).
    """
    aside = None
    if _lstat(path) is not None and any(path.iterdir()):
        aside = _aside_name(path)
        path.replace(aside)
    try:
        # rename() replaces a missing or empty directory, and refuses a non-empty one.
        staging.rename(path)
    except OSError as exc:
        if aside is not None:
            aside.replace(path)
        if exc.errno in {errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR}:
            msg = f"{path}: appeared while writing"
            raise OutputExistsError(msg, source=str(path), remedy=OVERWRITE_REMEDY) from None
        raise _write_error(path, exc, "cannot create the directory") from None
    return aside


class StagedFiles:
    """Files written to hidden temporaries now, and given their names together later, or never.

    :meth:`stage` writes a file's content to a temporary beside its destination and flushes it
    to disk (fsync); :meth:`stage_directory` does the same for a whole directory;
    :meth:`publish` checks every destination, then renames every staged file into place and
    flushes each directory once. Should a rename fail part-way (a full disk, a destination
    another user owns), the destinations already renamed get back what they held: their old
    content, or nothing. Leaving the ``with`` block without publishing removes the
    temporaries, so no destination changes. A batch stages each file as soon as it is ready,
    while the rest are still being made, and names them all at the end.

    Args:
        overwrite: Replace existing destinations; without it an existing one is an error.
    """

    def __init__(self, *, overwrite: bool) -> None:
        self._overwrite = overwrite
        self._staged: list[tuple[Path, Path]] = []
        self._directories: set[Path] = set()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.discard()

    def __repr__(self) -> str:
        return f"<StagedFiles: {len(self._staged)} staged>"

    def stage(self, path: Path, data: bytes, *, private: bool = False) -> None:
        """Write ``data`` to a temporary for ``path`` (0600 if ``private``).

        Raises:
            OutputError: The directory or the disk cannot take it.
        """
        self._staged.append((_stage(path, data, private=private), path))

    def stage_directory(self, path: Path, files: Mapping[str, bytes]) -> None:
        """Write a whole directory of public files to a temporary directory for ``path``.

        Raises:
            OutputError: The parent directory or the disk cannot take it.
        """
        staging = _stage_directory(path, files)
        self._staged.append((staging, path))
        self._directories.add(path)

    def _check_destinations(self) -> None:
        """Every destination, before the first rename (``os.lstat``: a dangling link exists)."""
        files = [path for _, path in self._staged if path not in self._directories]
        check_destinations(files, self._directories, overwrite=self._overwrite)

    def _publish_one(self, temporary: Path, path: Path) -> _Published:
        """Rename one staged file or directory into place, keeping what it replaces aside."""
        if path in self._directories:
            aside = _publish_directory(temporary, path)
        else:
            aside = _keep_aside(path) if self._overwrite else None
            try:
                if self._overwrite:
                    temporary.replace(path)
                else:
                    _publish_without_replacing(temporary, path)
            except BaseException as exc:
                if aside is not None:
                    with contextlib.suppress(OSError):
                        aside.unlink()
                if isinstance(exc, OSError):
                    raise _write_error(path, exc, "cannot give the file its name") from None
                raise
        status = _lstat(path)
        identity = (status.st_dev, status.st_ino) if status is not None else None
        return _Published(path, aside, identity)

    def publish(self) -> list[Path]:
        """Rename every staged file into place; return the destinations, in staging order.

        Raises:
            OutputExistsError: A destination exists and ``overwrite`` is false, or is a
                directory where a file goes (nothing is renamed).
            OutputError: A rename failed; every destination renamed before it has its old
                content back (one that cannot be put back is named, with where its old
                content is kept).
        """
        staged = self._staged
        directories: dict[Path, list[str]] = {}
        for _, path in staged:
            directory = path.parent if str(path.parent) else Path()
            directories.setdefault(directory, []).append(path.name)
        for directory, names in directories.items():
            _remove_orphaned_temporaries(directory, names)
        published: list[_Published] = []
        try:
            self._check_destinations()
            for temporary, path in staged:
                published.append(self._publish_one(temporary, path))
        except BaseException as exc:
            unrestored = []
            for done in reversed(published):
                kept = done.aside
                try:
                    done.undo()
                except OSError:
                    unrestored.append((done.path, kept))
            if unrestored and isinstance(exc, OutputError):
                # Saying "nothing changed" would be false: name what was not put back, and
                # where its old content still is.
                where = "; ".join(
                    f"{path} (its old content is kept as {kept})"
                    if kept is not None
                    else f"{path} (it did not exist before)"
                    for path, kept in unrestored
                )
                msg = f"{exc}; and these could not be put back as they were: {where}"
                raise OutputError(msg, source=exc.source) from None
            raise
        finally:
            self.discard()  # the temporaries of a hard-linked file, or of a failed publish
        for done in published:
            done.forget()
        for directory in directories:
            _fsync_directory(directory)
        return [path for _, path in staged]

    def discard(self) -> None:
        """Remove every staged temporary that was not renamed (nothing is published)."""
        import shutil  # noqa: PLC0415 - start-up time: see tempfile in _stage

        for temporary, path in self._staged:
            if path in self._directories:
                shutil.rmtree(temporary, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    temporary.unlink()
        self._staged = []
        self._directories = set()


def write_files(
    planned: Sequence[tuple[Path, bytes, bool]], *, overwrite: bool = False
) -> list[Path]:
    """Write already-serialised files, all or none: every destination is checked first.

    Every file's content goes to its temporary and is flushed to disk (fsync) before the first
    file is given its name; then each is renamed into place, and each directory is flushed
    once (see :class:`StagedFiles`). A failure while staging removes the temporaries, so no
    destination changes; a failure while renaming puts back what the renamed ones replaced.

    Args:
        planned: ``(path, data, private)`` per file; private files are created 0600.
        overwrite: Replace existing files.

    Returns:
        The paths written, in order.

    Raises:
        OutputExistsError: A destination exists and ``overwrite`` is false, or is a directory
            (nothing is written).
        OutputError: A destination cannot be written (nothing is written).
    """
    return write_outputs(planned, [], overwrite=overwrite)
