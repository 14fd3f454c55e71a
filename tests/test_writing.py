"""Writing files: atomic, all-or-nothing across formats, no clobbering, nothing left behind."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from truststore_builder import (
    MissingPasswordError,
    OutputError,
    OutputExistsError,
    StoreFormat,
    TrustStore,
    sha256_fingerprint,
)
from truststore_builder._builders import TrustStoreBuilder
from truststore_builder._cli import main
from truststore_builder._stores import write_stores
from truststore_builder._writing import write_atomically, write_files

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.pki import GeneratedPki


@pytest.fixture(scope="module")
def int_store() -> TrustStore:
    """The INT G1+G2 trust store (nothing in it has expired)."""
    return TrustStoreBuilder().add_nhs("int").build()


def test_atomic_write_creates_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    """The destination holds the whole content and the directory holds nothing else."""
    target = tmp_path / "out.pem"
    write_atomically(target, b"content", overwrite=False)
    assert target.read_bytes() == b"content"
    assert [p.name for p in tmp_path.iterdir()] == ["out.pem"]


def test_existing_file_is_not_replaced_unless_asked(tmp_path: Path) -> None:
    """Without overwrite the old file survives untouched; with it the new content replaces it."""
    target = tmp_path / "out.pem"
    target.write_bytes(b"old")
    with pytest.raises(OutputExistsError, match="already exists"):
        write_atomically(target, b"new", overwrite=False)
    assert target.read_bytes() == b"old"
    write_atomically(target, b"new", overwrite=True)
    assert target.read_bytes() == b"new"
    assert len(list(tmp_path.iterdir())) == 1


def test_private_files_are_0600_whatever_the_umask(tmp_path: Path) -> None:
    """A file marked private is created 0600 even under umask 000; a public one follows the umask."""
    old = os.umask(0)
    try:
        write_atomically(tmp_path / "key.pem", b"k", overwrite=False, private=True)
        write_atomically(tmp_path / "bundle.pem", b"b", overwrite=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "bundle.pem").stat().st_mode) == 0o644


def test_unwritable_directory_is_a_typed_error(tmp_path: Path) -> None:
    """A directory that cannot be made (a file in the way) is named; nothing is left behind."""
    from truststore_builder import OutputError  # noqa: PLC0415

    (tmp_path / "a-file").write_bytes(b"")
    with pytest.raises(OutputError, match="a-file/missing: cannot create the directory"):
        write_atomically(tmp_path / "a-file" / "missing" / "out.pem", b"x", overwrite=False)
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]
    # A missing directory alone is no error: it is made.
    write_atomically(tmp_path / "missing" / "out.pem", b"x", overwrite=False)
    assert (tmp_path / "missing" / "out.pem").read_bytes() == b"x"


def test_all_formats_are_checked_before_any_file_is_written(
    int_store: TrustStore, tmp_path: Path
) -> None:
    """A JKS target without a password stops the whole write: not even the PEM file appears."""
    targets = {
        tmp_path / "truststore.pem": StoreFormat.PEM,
        tmp_path / "truststore.jks": StoreFormat.JKS,
    }
    with pytest.raises(MissingPasswordError, match="changeit"):
        write_stores(int_store, targets)
    assert list(tmp_path.iterdir()) == []


def test_one_existing_target_stops_every_write(int_store: TrustStore, tmp_path: Path) -> None:
    """If any destination exists (and no overwrite), no destination is written."""
    (tmp_path / "truststore.p12").write_bytes(b"old")
    targets = {
        tmp_path / "truststore.pem": StoreFormat.PEM,
        tmp_path / "truststore.p12": StoreFormat.PKCS12,
    }
    with pytest.raises(OutputExistsError):
        write_stores(int_store, targets)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["truststore.p12"]
    assert (tmp_path / "truststore.p12").read_bytes() == b"old"


@pytest.mark.parametrize("suffix", ["pem", "p12", "jks", "jceks", "p7b"])
def test_store_write_infers_format_and_reads_back(
    int_store: TrustStore, tmp_path: Path, suffix: str
) -> None:
    """TrustStore.write picks the format from the suffix; the file reads back as the four INT CAs."""
    from truststore_builder._sources.files import read_store  # noqa: PLC0415

    path = int_store.write(tmp_path / f"truststore.{suffix}", password="s3cret-Pa55")
    entries = read_store(path, password="s3cret-Pa55")
    found = [sha256_fingerprint(e.certificate) for e in entries]
    expected = [e.sha256 for e in int_store]
    # PKCS#7 is a SET OF certificates, so only its membership is defined.
    assert (sorted(found) == sorted(expected)) if suffix == "p7b" else (found == expected)


def test_pem_bundle_is_byte_identical_for_the_same_inputs() -> None:
    """Two builds from the same inputs give the same PEM bytes, so a rebuilt bundle diffs cleanly."""
    first = TrustStoreBuilder().add_nhs("dep").build().to_pem()
    second = TrustStoreBuilder().add_nhs("dep").build().to_pem()
    assert first == second


def test_unknown_suffix_needs_a_named_format(int_store: TrustStore, tmp_path: Path) -> None:
    """A destination like store.bin gives a clear error instead of a guess."""
    with pytest.raises(ValueError, match="cannot tell the store format"):
        int_store.write(tmp_path / "store.bin")


# --- all or nothing: every destination checked first, a failed rename undone -------------------

_THREE = ("truststore.pem", "truststore.p12", "truststore.p7b")


def _three_targets(directory: Path) -> dict[Path, StoreFormat]:
    return {
        directory / "truststore.pem": StoreFormat.PEM,
        directory / "truststore.p12": StoreFormat.PKCS12,
        directory / "truststore.p7b": StoreFormat.PKCS7,
    }


def _listing(directory: Path) -> dict[str, bytes | str]:
    """Every entry of ``directory``: a file's bytes, a link's target (hidden ones included)."""
    return {
        p.name: str(p.readlink()) if p.is_symlink() else p.read_bytes()
        for p in sorted(directory.iterdir())
    }


def _fail_at(name: str, error: int) -> Callable[[Path, str | Path], Path]:
    """A Path.replace that fails with ``error`` when giving a file the name ``name``."""
    real = Path.replace

    def replace(self: Path, target: str | Path) -> Path:
        if Path(target).name == name:
            raise OSError(error, os.strerror(error), str(target))
        return real(self, target)

    return replace


def test_a_dangling_link_at_one_destination_stops_every_write(
    int_store: TrustStore, tmp_path: Path
) -> None:
    """A link to nothing exists: refused before the first rename, nothing written, with or without --force."""
    (tmp_path / "truststore.p7b").symlink_to(tmp_path / "nowhere")
    before = _listing(tmp_path)
    with pytest.raises(OutputExistsError, match=r"truststore\.p7b: already exists"):
        write_stores(int_store, _three_targets(tmp_path))
    assert _listing(tmp_path) == before
    # The same set with the link in the middle, through write_files (as the CLI writes).
    with pytest.raises(OutputExistsError, match=r"truststore\.p7b"):
        write_files(
            [(tmp_path / name, b"new", False) for name in ("a.pem", "truststore.p7b", "c.pem")]
        )
    assert _listing(tmp_path) == before


def test_a_rename_failing_part_way_puts_back_what_was_there(
    int_store: TrustStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--force, the third rename refused (EACCES): the first two get their old files back."""
    (tmp_path / "truststore.pem").write_bytes(b"old pem")  # the p12 did not exist before
    (tmp_path / "truststore.p7b").write_bytes(b"old p7b")
    before = _listing(tmp_path)
    monkeypatch.setattr(Path, "replace", _fail_at("truststore.p7b", errno.EACCES))
    with pytest.raises(OutputError) as caught:
        write_stores(int_store, _three_targets(tmp_path), overwrite=True)
    assert str(caught.value) == (
        f"{tmp_path / 'truststore.p7b'}: cannot give the file its name (Permission denied)"
    )
    assert not isinstance(caught.value, OutputExistsError)
    assert _listing(tmp_path) == before  # old contents back, the new p12 gone, no temporary


def test_a_failed_put_back_is_named_with_where_the_old_content_is(
    int_store: TrustStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--force, the third rename refused and putting the first back refused too: the error says so."""
    (tmp_path / "truststore.pem").write_bytes(b"old pem")
    (tmp_path / "truststore.p7b").write_bytes(b"old p7b")
    failing_publish = _fail_at("truststore.p7b", errno.EACCES)

    def replace(self: Path, target: str | Path) -> Path:
        if self.name.endswith("old.tmp") and Path(target).name == "truststore.pem":
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(target))
        return failing_publish(self, target)

    monkeypatch.setattr(Path, "replace", replace)
    with pytest.raises(OutputError) as caught:
        write_stores(int_store, _three_targets(tmp_path), overwrite=True)
    message = str(caught.value)
    assert message.startswith(
        f"{tmp_path / 'truststore.p7b'}: cannot give the file its name (Permission denied); "
        f"and these could not be put back as they were: {tmp_path / 'truststore.pem'} "
        "(its old content is kept as "
    )
    [kept] = [p for p in tmp_path.iterdir() if p.name.endswith("old.tmp")]
    assert str(kept) in message
    assert kept.read_bytes() == b"old pem"
    # The control: the p12, put back (it did not exist), is not named.
    assert "truststore.p12" not in message
    assert not (tmp_path / "truststore.p12").exists()


def test_without_force_a_failed_publish_removes_what_it_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --force, the third file cannot be linked or renamed (ENOSPC): the first two go again."""
    real_link = os.link

    def link(source: str | Path, target: str | Path, **kwargs: bool) -> None:
        if Path(target).name == "c.pem":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_link(source, target, **kwargs)

    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(Path, "replace", _fail_at("c.pem", errno.ENOSPC))
    with pytest.raises(OutputError, match=r"c\.pem: cannot give the file its name \(No space"):
        write_files([(tmp_path / name, b"new", False) for name in ("a.pem", "b.pem", "c.pem")])
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_is_an_output_error_naming_the_file(
    int_store: TrustStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """ENOSPC while writing: OutputError naming the file, no temporary; the CLI says so, exit 2."""
    real_write = os.write

    def full(fd: int, data: bytes | memoryview) -> int:
        if len(data) > 100:  # the stores, not pytest's own small writes
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full)
    target = tmp_path / "truststore.pem"
    with pytest.raises(OutputError) as caught:
        int_store.write(target)
    assert str(caught.value) == f"{target}: cannot write it (No space left on device)"
    assert list(tmp_path.iterdir()) == []
    out = tmp_path / "out"
    assert main(["build", "--env", "int", "--formats", "pem,p7b", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"truststore-builder: error: {out / 'truststore.pem'}: cannot write it "
        "(No space left on device)\n"
    )
    assert not out.exists()  # the directory it made is gone again


def test_force_cannot_replace_a_directory_with_a_file(
    int_store: TrustStore, tmp_path: Path
) -> None:
    """A directory at a file's destination: refused before any write, even with overwrite."""
    (tmp_path / "truststore.p12").mkdir()
    with pytest.raises(OutputExistsError, match=r"is a directory, which a file never replaces$"):
        write_stores(int_store, _three_targets(tmp_path), overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["truststore.p12"]


def test_directories_made_are_0755_or_0700_for_keys_whatever_the_umask(
    pki: GeneratedPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under umask 000 build --out makes a/b 0755, and 0700 where the client key goes."""
    monkeypatch.setenv("TSB_TEST_WRITING_PASSWORD", "Writing-Test-Password-1")
    cert, key = pki.g2.write_client(tmp_path, "client")
    cas = tmp_path / "cas.pem"
    cas.write_bytes(pki.g2.root.cert_pem() + pki.g2.intermediate.cert_pem())
    old = os.umask(0)
    try:
        assert (
            main(["build", "--env", "int", "--out", str(tmp_path / "a" / "b"), "--formats", "pem"])
            == 0
        )
        argv = ["build", "--env", "int", "--add", str(cas), "--out", str(tmp_path / "k" / "l")]
        argv += ["--formats", "pem", "--cert", str(cert), "--key", str(key)]
        argv += ["--password-env", "TSB_TEST_WRITING_PASSWORD"]
        assert main(argv) == 0
    finally:
        os.umask(old)
    modes = {
        name: stat.S_IMODE((tmp_path / name).stat().st_mode) for name in ("a", "a/b", "k", "k/l")
    }
    assert modes == {"a": 0o755, "a/b": 0o755, "k": 0o700, "k/l": 0o700}
    assert stat.S_IMODE((tmp_path / "k" / "l" / "client-key.pem").stat().st_mode) == 0o600


def test_csr_at_a_dangling_link_leaves_no_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The csr command's --csr-out at a link to nothing: refused before the key is written; exit 2."""
    (tmp_path / "client.csr").symlink_to(tmp_path / "nowhere")
    argv = ["csr", "--cn", "client.test.nhs.uk", "--key-out", str(tmp_path / "client-key.pem")]
    assert main([*argv, "--csr-out", str(tmp_path / "client.csr")]) == 2
    assert "client.csr: already exists" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["client.csr"]


def test_each_audience_reads_the_name_it_can_type(
    int_store: TrustStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An existing file: Python's error says overwrite=True, the command line's says --force."""
    target = tmp_path / "truststore.pem"
    target.write_bytes(b"old")
    with pytest.raises(OutputExistsError) as caught:
        int_store.write(target)
    assert str(caught.value) == f"{target}: already exists; pass overwrite=True to replace it"
    assert main(["build", "--env", "int", "--formats", "pem", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"truststore-builder: error: {target}: already exists and is not what this build makes "
        "(its content differs); pass --force to replace it\n"
    )
    assert target.read_bytes() == b"old"
