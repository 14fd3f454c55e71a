"""Writing files: atomic, all-or-nothing across formats, no clobbering, nothing left behind."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

import pytest

from truststore_builder import (
    MissingPasswordError,
    OutputExistsError,
    StoreFormat,
    TrustStore,
    sha256_fingerprint,
)
from truststore_builder._builders import TrustStoreBuilder
from truststore_builder._writing import write_atomically, write_stores

if TYPE_CHECKING:
    from pathlib import Path


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
    """Writing into a directory that does not exist names the path and leaves nothing behind."""
    from truststore_builder import OutputError  # noqa: PLC0415

    with pytest.raises(OutputError, match="cannot write"):
        write_atomically(tmp_path / "missing" / "out.pem", b"x", overwrite=False)


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
