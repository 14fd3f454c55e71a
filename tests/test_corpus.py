"""The bad-input corpus: every malformed input gives a typed error naming it, quickly.

For every reader (PEM, DER, PKCS#7, PKCS#12, JKS, JCEKS, private keys, recipes) the corpus in
:mod:`tests.corpus` holds truncations at every length, bit flips, wrong and empty passwords,
tampered MACs and digests, huge declared lengths, junk, inputs of the wrong kind; this module
adds the big ones (50 MB of junk, thousands of PEM blocks) and the path cases (a directory, no
permission, a name that is not UTF-8). Each must raise a
:class:`~truststore_builder.TruststoreBuilderError` whose message names the input: never a bare
exception from a dependency, never a pyo3 ``PanicException`` (a BaseException), never a hang.
The command line must agree, exiting 2 with exactly one line on stderr.

Warnings are errors while a reader runs: a dependency's warning escaping under ``-W error``
is a bare exception too.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import os
import random
import re
import resource
import signal
import subprocess
import sys
import time
import warnings
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import cryptography_vectors
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import corpus
from tests.commands import PASSWORD_VARIABLE, run
from truststore_builder import (
    InputError,
    JksIntegrityNotCheckedWarning,
    MalformedInputError,
    TruststoreBuilderError,
    WrongPasswordError,
    _cli,
)
from truststore_builder._formats import asn1, jks, pkcs12
from truststore_builder._model import StoreEntry, sha256_fingerprint
from truststore_builder._sources import files

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

ORIGINALS = corpus.make_originals()
CASES = corpus.cases(ORIGINALS)
#: Damage that may leave a readable file: a flipped bit in a DER signature or a name, which
#: nothing here verifies (certificates are checked by chain building, not on reading).
_MAY_READ = {"bit flip"}
#: Each reader's time bound, in seconds (generous: CI machines are slow).
_DEADLINE = 20


class _Timeout(BaseException):
    """A reader ran past its deadline."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail the test (by raising _Timeout) if the block runs longer than ``seconds``."""

    def expire(_signum: int, _frame: object) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def attempt(
    read: Callable[[], object], seconds: float = _DEADLINE
) -> TruststoreBuilderError | None:
    """Run ``read`` with warnings as errors and a deadline; its typed error, or None if it read.

    Anything else (a dependency's exception, a PanicException, a warning, a timeout) fails the
    test with the exception's type in the message.
    """
    try:
        with deadline(seconds), warnings.catch_warnings():
            warnings.simplefilter("error")
            # Our own notice that a JKS store was read without its password: expected.
            warnings.simplefilter("ignore", JksIntegrityNotCheckedWarning)
            read()
    except TruststoreBuilderError as exc:
        return exc
    except _Timeout:
        pytest.fail(f"no answer within {seconds} s")
    except BaseException as exc:  # noqa: BLE001  (PanicException is a BaseException)
        pytest.fail(f"escaped the hierarchy: {type(exc).__module__}.{type(exc).__name__}: {exc}")
    return None


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the command line in-process; the exit status, stdout and stderr."""
    capsys.readouterr()
    with deadline(_DEADLINE):
        status = _cli.main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_error_line(status: int, err: str, names: str) -> None:
    """Exit 2, one ``error:`` line on stderr naming the input, and no internal error."""
    assert status == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("truststore-builder: error: "), err
    assert "internal error" not in lines[0], err
    assert names in lines[0], err


def _password_options(directory: Path, password: bytes | None, option: str) -> list[str]:
    if password is None:
        return []
    path = directory / f"{option}.txt"
    path.write_bytes(password)
    return [f"--{option}-file", str(path)]


def _cli_argv(case: corpus.Case, path: Path, directory: Path) -> list[str]:
    """``inspect FILE`` for stores and certificates; ``verify --key FILE`` for private keys."""
    if case.reader == "key":
        cert = directory / "leaf.pem"
        cert.write_bytes(ORIGINALS.leaf.public_bytes(Encoding.PEM))
        trust = directory / "ca.pem"
        trust.write_bytes(ORIGINALS.ca.public_bytes(Encoding.PEM))
        return [
            "verify",
            str(cert),
            "--trust",
            str(trust),
            "--key",
            str(path),
            *_password_options(directory, case.password, "key-password"),
        ]
    return ["inspect", str(path), *_password_options(directory, case.password, "password")]


def _library_verdict(case: corpus.Case, path: Path) -> TruststoreBuilderError | None:
    """What the library makes of the file the command line is given (None: it reads)."""
    if case.reader == "key":
        return attempt(lambda: corpus.READERS["key"](path.read_bytes(), case.password, str(path)))
    return attempt(lambda: files.read_store(path, password=case.password))


# --- the corpus -------------------------------------------------------------------------------


def test_corpus_is_large_and_varied() -> None:
    """At least 40 distinct inputs beyond the truncations, over every kind of damage and reader."""
    names = [case.name for case in CASES]
    assert len(set(names)) == len(names)
    assert len(CASES) >= 40
    categories = {case.category for case in CASES}
    assert {
        "bit flip",
        "wrong or empty password",
        "tampered MAC",
        "tampered JKS digest",
        "huge declared length",
        "junk",
        "wrong kind of input",
    } <= categories
    assert {case.reader for case in CASES} >= set(corpus.READERS) - {"detect"}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_malformed_input_gives_a_typed_error_naming_it(case: corpus.Case) -> None:
    """Each input: a TruststoreBuilderError naming the input (or, for a bit flip, a clean read)."""
    source = f"corpus:{case.name}"
    error = attempt(lambda: corpus.READERS[case.reader](case.data, case.password, source))
    if error is None:
        assert case.category in _MAY_READ, f"{case.name} was read as valid"
        return
    named = "<bytes>" if case.reader == "store" else source
    assert named in str(error)
    assert error.source in {named, None}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_command_line_gives_one_line_and_exit_2(
    case: corpus.Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command line, given the input as a file, agrees with the library: one line, exit 2."""
    path = tmp_path / "input.bin"
    path.write_bytes(case.data)
    expected = _library_verdict(case, path)
    if case.password == b"":
        # An empty password file is a usage error of its own (exit 2, one line).
        expected = expected or InputError("empty password")
    status, _out, err = run_cli(_cli_argv(case, path, tmp_path), capsys)
    if expected is None:
        assert "error:" not in err
        return
    named = str(path)
    if case.password == b"":
        # Named by its option, not its path (a password could have been typed there).
        option = "key-password" if case.reader == "key" else "password"
        named = f"--{option}-file: the file it names is empty"
    assert_one_error_line(status, err, named)


@pytest.mark.parametrize("original", sorted(ORIGINALS.files))
def test_every_truncation_gives_a_typed_error(
    original: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The original cut at every length: a typed error naming it, and the CLI agrees (sampled).

    A cut PEM file may still be valid PEM (cut inside the trailing newline, or between two
    certificates): then it must read, with fewer certificates at most.
    """
    whole = corpus.READERS[corpus._READER_OF[original]]  # noqa: SLF001
    for case in corpus.truncations(ORIGINALS, original):
        source = f"corpus:{case.name}"
        error = attempt(lambda c=case, s=source: whole(c.data, c.password, s))  # type: ignore[misc]
        if error is None:
            assert original in {"pem", "p7b-pem", "key-pem", "key-pem-encrypted"}, case.name
            continue
        assert source in str(error), case.name
    # The command line, on every 13th length (the library path above covers each).
    for case in list(corpus.truncations(ORIGINALS, original))[::13]:
        path = tmp_path / "cut.bin"
        path.write_bytes(case.data)
        expected = _library_verdict(case, path)
        status, _out, err = run_cli(_cli_argv(case, path, tmp_path), capsys)
        if expected is not None:
            assert_one_error_line(status, err, str(path))


# --- huge and many ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def junk_50mb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """50 MB of pseudo-random junk on disk."""
    path = tmp_path_factory.mktemp("junk") / "junk.bin"
    path.write_bytes(random.Random(50).randbytes(50 * 1024 * 1024))  # noqa: S311
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    "prefix",
    [
        b"",
        b"\x30\x84\x03\x00\x00\x00\x30\x84",
        b"\x30\x84\x03\x00\x00\x00\x02\x01\x03\x30",
        b"\xfe\xed\xfe\xed",
        b"\xce\xce\xce\xce",
        b"-----BEGIN CERTIFICATE-----\n",
    ],
    ids=["random", "der", "pkcs12", "jks", "jceks", "pem"],
)
def test_50mb_of_junk_is_refused_quickly(
    prefix: bytes, junk_50mb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """50 MB of junk behind each format's opening bytes: a typed error in bounded time."""
    path = tmp_path / "junk.bin"
    path.write_bytes(prefix + junk_50mb.read_bytes())
    started = time.monotonic()
    error = attempt(lambda: files.read_store(path, password=corpus.PASSWORD), seconds=15)
    assert error is not None
    assert str(path) in str(error)
    assert time.monotonic() - started < 15
    status, _out, err = run_cli(["inspect", str(path)], capsys)
    assert_one_error_line(status, err, str(path))


def _pem_blocks(count: int) -> bytes:
    return ORIGINALS.ca.public_bytes(Encoding.PEM) * count


def test_thousands_of_pem_blocks_read_in_bounded_time() -> None:
    """5,000 certificate blocks read within seconds; 100,000 other blocks are skipped as fast."""
    certificates: list[StoreEntry] = []
    assert attempt(lambda: certificates.extend(files.read_store(_pem_blocks(5000))), 15) is None
    assert len(certificates) == 5000
    others = b"-----BEGIN X-----\n-----END X-----\n" * 100_000 + _pem_blocks(1)
    assert attempt(lambda: files.read_store(others), 15) is None


def test_a_broken_block_after_thousands_is_named() -> None:
    """The error names the broken block by index and line, after 5,000 good ones."""
    broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    error = attempt(lambda: files.read_store(_pem_blocks(5000) + broken), 15)
    assert isinstance(error, MalformedInputError)
    assert "PEM block 5001" in str(error)
    unterminated = b"-----BEGIN CERTIFICATE-----\n" * 100_000
    assert isinstance(attempt(lambda: files.read_store(unterminated), 15), MalformedInputError)


def test_pkcs12_mac_iteration_counts_out_of_range_are_refused_without_running_them() -> None:
    """A MAC claiming 0, -1 or 2**31-1 iterations is refused at once, not run."""
    safe = pkcs12._sequence(pkcs12._trusted_certificate_bag("a", ORIGINALS.ca))  # noqa: SLF001
    auth_safe = pkcs12._sequence(pkcs12._data_content_info(safe))  # noqa: SLF001
    good = pkcs12._mac_data(auth_safe, corpus.PASSWORD, b"s" * 16, 1)  # noqa: SLF001
    for count in (0, -1, 0x7FFFFFFF):
        encoded = count.to_bytes(4, "big", signed=True)
        mac = good[: -len(b"\x02\x01\x01")] + b"\x02\x04" + encoded
        mac = b"\x30" + bytes([len(mac) - 2]) + mac[2:]
        info = pkcs12._data_content_info(auth_safe)  # noqa: SLF001
        data = pkcs12._sequence(pkcs12._integer(3), info, mac)  # noqa: SLF001
        for password in (corpus.PASSWORD, None):
            error = attempt(partial(pkcs12.load_pkcs12_store, data, password, "it"), 5)
            assert isinstance(error, InputError), count


@pytest.mark.parametrize("encoding", ["PEM", "DER"])
def test_an_encrypted_key_asking_for_too_much_key_derivation_is_refused_before_any_runs(
    encoding: str, tmp_path: Path
) -> None:
    """A PKCS#8 key at 8,388,607 PBKDF2 iterations: refused in < 1 s, not minutes of PBKDF2.

    The control, the same key at 65,536 iterations (written by OpenSSL), reads with its
    password. The costly one differs only in the iteration count's three bytes.
    """
    key = tmp_path / "key.pem"
    key.write_bytes(ORIGINALS.files["key-pem"])
    encrypted = tmp_path / f"encrypted.{encoding.lower()}"
    done = run(
        "openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-iter", "65536",
        "-in", key, "-outform", encoding, "-out", encrypted,
        "-passout", f"env:{PASSWORD_VARIABLE}", password=corpus.PASSWORD.decode(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    cheap = encrypted.read_bytes()
    if encoding == "PEM":
        body = b"".join(cheap.splitlines()[1:-1])
        der = base64.b64decode(body)
    else:
        der = cheap
    assert der.count(b"\x02\x03\x01\x00\x00") == 1  # INTEGER 65536
    costly_der = der.replace(b"\x02\x03\x01\x00\x00", b"\x02\x03\x7f\xff\xff")
    costly = tmp_path / f"costly.{encoding.lower()}"
    costly.write_bytes(
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
        + base64.encodebytes(costly_der)
        + b"-----END ENCRYPTED PRIVATE KEY-----\n"
        if encoding == "PEM"
        else costly_der
    )
    assert attempt(partial(files.read_private_key, encrypted, password=corpus.PASSWORD)) is None
    started = time.monotonic()
    error = attempt(partial(files.read_private_key, costly, password=corpus.PASSWORD), 5)
    assert time.monotonic() - started < 1
    assert isinstance(error, MalformedInputError)
    assert str(costly) in str(error)
    assert "8,388,607" in str(error)
    assert corpus.PASSWORD.decode() not in str(error)


@pytest.mark.parametrize("name", sorted(corpus.costly_pkcs12(ORIGINALS)))
def test_pkcs12_asking_for_too_much_key_derivation_is_refused_before_any_runs(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every iteration count (MAC, contents, keys, nested) and their sum: refused in < 1 s.

    Before, 2**31-1 iterations in an encrypted SafeContents or a key hung every reader for
    minutes (cryptography runs them first), and eight blocks at the limit took a minute. The
    control, the same shape at one iteration, reads.
    """
    data = corpus.costly_pkcs12(ORIGINALS)[name]
    assert len(data) < 4096
    cheap = corpus.cheap_pkcs12(ORIGINALS)
    entries = files.read_store(cheap, password=corpus.PASSWORD)
    assert [e.certificate for e in entries] == [ORIGINALS.ca]
    path = tmp_path / f"{name}.p12"
    path.write_bytes(data)
    for read, password in (
        (partial(files.read_store, path, password=corpus.PASSWORD), True),
        (partial(files.read_store, path), False),
        (partial(files.read_identities, path, password=corpus.PASSWORD), True),
    ):
        started = time.monotonic()
        error = attempt(read, 5)
        assert time.monotonic() - started < 1
        assert isinstance(error, InputError), name
        assert str(path) in str(error)
        if password or not name.endswith("inside-cheap-encryption"):
            # Without the password the hidden key stays hidden, from OpenSSL too: a
            # MissingPasswordError, as fast.
            assert isinstance(error, MalformedInputError), name
            assert "iteration" in str(error)
    status, _out, err = run_cli(["inspect", str(path)], capsys)
    assert_one_error_line(status, err, str(path))


def test_a_wrong_pkcs12_password_whose_garbage_has_valid_padding_is_a_wrong_password() -> None:
    """One wrong password in 256 decrypts to valid padding: still WrongPasswordError.

    Found by the cryptography-vectors corpus: such garbage was "contents do not parse".
    """
    data = corpus.cheap_pkcs12(ORIGINALS)
    contents = bytes(pkcs12._parse_pfx(data).auth_safe)  # noqa: SLF001
    encrypted = bytes(asn1.children(asn1.read_element(contents)[1])[0][1])
    lucky = next(
        candidate
        for candidate in (f"wrong-{n}".encode() for n in range(100_000))
        if pkcs12._decrypt_encrypted_data(asn1.children(encrypted)[1][1], candidate)  # noqa: SLF001
        is not None
    )
    error = attempt(partial(files.read_store, data, password=lucky))
    assert isinstance(error, WrongPasswordError), error
    assert files.read_store(data, password=corpus.PASSWORD)  # the control: the right one reads


def test_a_jceks_secret_key_entry_of_megabytes_is_refused_fast_and_silently(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A 4 MB "sealed key" (2.8 s before): refused in < 1 s, printing nothing.

    javaobj reads an int[] an element at a time (minutes for a file at the size limit) and logs
    a dump of what it parsed. The control, a real one from keytool, reads in the field-store
    test.
    """
    count = 1_000_000
    class_description = b"\x72\x00\x02[I" + bytes(8) + b"\x02\x00\x00\x78\x70"
    array = (
        b"\xac\xed\x00\x05\x75" + class_description + count.to_bytes(4, "big") + bytes(4 * count)
    )
    entry = (3).to_bytes(4, "big") + b"\x00\x01a" + bytes(8) + array
    data = b"\xce\xce\xce\xce" + (2).to_bytes(4, "big") + (1).to_bytes(4, "big") + entry + bytes(20)
    capfd.readouterr()
    for password in (None, corpus.PASSWORD):
        started = time.monotonic()
        error = attempt(partial(jks.load_jks_store, data, password, "sealed.jceks"), 5)
        assert time.monotonic() - started < 1
        assert isinstance(error, MalformedInputError)
        assert "sealed secret key" in str(error)
    assert capfd.readouterr() == ("", "")


# --- certificates with a zero or negative serial ----------------------------------------------


@pytest.mark.parametrize("serial", [b"\x00", b"\xff", b"\x80\x00"], ids=["zero", "-1", "-32768"])
def test_non_positive_serials_are_read_as_they_are(serial: bytes) -> None:
    """Policy: read, serial kept, no warning escaping (as Java and OpenSSL read them).

    RFC 5280 forbids CAs to issue them but asks users to handle them gracefully; two Mozilla
    roots have serial 0. Every format that can carry one reads it.
    """
    der = corpus.non_positive_serial(ORIGINALS, serial)
    expected = int.from_bytes(serial, "big", signed=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        certificate = x509.load_der_x509_certificate(der)
        pem = certificate.public_bytes(Encoding.PEM)
        p12 = pkcs12.serialize_pkcs12_truststore([("odd", certificate)], corpus.PASSWORD)
        store = jks.serialize_jks_truststore([("odd", certificate)], corpus.PASSWORD)
    for data in (der, pem, p12, store):
        read: list[StoreEntry] = []
        assert attempt(partial(_extend, read, data)) is None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert [entry.certificate.serial_number for entry in read] == [expected]


def _extend(read: list[StoreEntry], data: bytes) -> None:
    read.extend(files.read_store(data, password=corpus.PASSWORD))


# --- paths -----------------------------------------------------------------------------------


def test_a_directory_where_a_file_is_expected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A directory as a key, a key store, or an empty directory as a certificate source."""
    directory = tmp_path / "a-directory"
    directory.mkdir()
    for read in (
        lambda: files.read_input(directory),
        lambda: files.read_identities(directory, password=corpus.PASSWORD),
        lambda: files.read_store(directory),
    ):
        error = attempt(read)
        assert isinstance(error, InputError)
        assert str(directory) in str(error)
    status, _out, err = run_cli(["inspect", str(directory)], capsys)
    assert_one_error_line(status, err, str(directory))
    cert = tmp_path / "leaf.pem"
    cert.write_bytes(ORIGINALS.leaf.public_bytes(Encoding.PEM))
    status, _out, err = run_cli(
        ["verify", str(cert), "--trust", str(cert), "--key", str(directory)], capsys
    )
    assert_one_error_line(status, err, str(directory))


def _special_files(directory: Path) -> dict[str, Path]:
    """A FIFO, a character device, a directory and a sparse file one byte over the size limit."""
    fifo = directory / "pipe.p12"
    os.mkfifo(fifo)
    folder = directory / "folder.pem"
    folder.mkdir()
    huge = directory / "huge.pem"
    with huge.open("wb") as handle:
        handle.truncate(files.MAX_INPUT_SIZE + 1)  # sparse: no disk, no memory
    return {"FIFO": fifo, "character device": Path("/dev/zero"), "directory": folder, "256": huge}


def test_non_regular_and_oversized_files_are_refused_for_every_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A FIFO, /dev/zero, a directory or a file over the limit: refused at once, named, unread.

    The control: the same readers read a regular file (the password file, the PEM) fine.
    """
    password_file = tmp_path / "password.txt"
    password_file.write_bytes(corpus.PASSWORD)
    pem = tmp_path / "ca.pem"
    pem.write_bytes(ORIGINALS.ca.public_bytes(Encoding.PEM))
    key = tmp_path / "key.pem"
    key.write_bytes(ORIGINALS.files["key-pem"])
    assert attempt(lambda: files.read_store(pem)) is None
    status, _out, err = run_cli(
        ["inspect", str(pem), "--password-file", str(password_file)], capsys
    )
    assert status == 0, err
    for kind, path in _special_files(tmp_path).items():
        readers: list[Callable[[], object]] = [
            partial(files.read_input, path),
            partial(files.read_private_key, path),
            partial(files.read_identities, path, password=corpus.PASSWORD),
        ]
        if kind != "directory":  # a directory is a certificate source of its own
            readers.append(partial(files.read_store, path))
        for read in readers:
            started = time.monotonic()
            error = attempt(read, seconds=5)
            assert isinstance(error, InputError), kind
            assert str(path) in str(error)
            assert kind in str(error)
            assert time.monotonic() - started < 1
        for argv in (
            ["inspect", str(path)],
            ["inspect", str(pem), "--password-file", str(path)],
            ["verify", str(pem), "--trust", str(pem), "--key", str(path)],
        ):
            if argv == ["inspect", str(path)] and kind == "directory":
                continue
            status, _out, err = run_cli(argv, capsys)
            assert status == 2, err
            if "--password-file" in argv:
                # A password may have been typed where the path belongs: the option is named.
                assert "--password-file" in err
                assert str(path) not in err
            else:
                assert str(path) in err
            assert kind in err
            assert len(err.splitlines()) == 1, err
        recipe = tmp_path / f"recipe-{kind.replace(' ', '-')}.toml"
        recipe.write_text(
            f'[trust]\nenvironments = ["int"]\n[[targets]]\nformat = "p12"\n'
            f'path = "out.p12"\npassword_file = "{path}"\n'
        )
        status, _out, err = run_cli(["build", "--recipe", str(recipe)], capsys)
        assert_one_error_line(status, err, "password_file")
        assert str(path) not in err
        assert kind in err
        status, _out, err = run_cli(["build", "--recipe", str(path)], capsys)
        assert_one_error_line(status, err, str(path))
        assert kind in err
        assert not (tmp_path / "out.p12").exists()


def test_a_file_without_read_permission(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Permission denied (simulated: root reads anything): a typed error naming the file."""
    path = tmp_path / "locked.p12"
    path.write_bytes(ORIGINALS.files["p12"])
    real_open = os.open

    def refuse(file: str | os.PathLike[str], *args: int, **kwargs: int) -> int:
        if os.fspath(file).endswith("locked.p12"):
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    for read in (
        lambda: files.read_store(path, password=corpus.PASSWORD),
        lambda: files.read_identities(path, password=corpus.PASSWORD),
    ):
        error = attempt(read)
        assert isinstance(error, InputError)
        assert str(path) in str(error)
        assert "Permission denied" in str(error)
    status, _out, err = run_cli(["inspect", str(path)], capsys)
    assert_one_error_line(status, err, str(path))


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file names must be UTF-8")
def test_a_file_name_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A name with a byte that is not UTF-8: read, and named in errors (surrogate-escaped)."""
    name = os.fsdecode(b"store-\xff\xfe.p12")
    good = tmp_path / name
    good.write_bytes(ORIGINALS.files["p12"])
    assert attempt(lambda: files.read_store(good, password=corpus.PASSWORD)) is None
    status, _out, err = run_cli(
        ["inspect", str(good), *_password_options(tmp_path, corpus.PASSWORD, "password")], capsys
    )
    assert status == 0, err
    bad = tmp_path / os.fsdecode(b"cut-\xff.p12")
    bad.write_bytes(ORIGINALS.files["p12"][:100])
    error = attempt(lambda: files.read_store(bad, password=corpus.PASSWORD))
    assert error is not None
    assert str(bad) in str(error)
    status, _out, err = run_cli(["inspect", str(bad)], capsys)
    assert status == 2
    assert len(err.splitlines()) == 1
    assert "cut-\\udcff.p12" in err


# --- recipes ---------------------------------------------------------------------------------


def _recipe_cases() -> dict[str, bytes]:
    return {
        "not-toml": b"[trust\n",
        "empty": b"",
        "nul": b"\0\0\0",
        "not-utf8": b'[trust]\nenvironments = ["\xff"]\n',
        "deep-arrays": b"a = " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
        "deep-tables": b"a = " + b"{b = " * 5000 + b"1" + b"}" * 5000 + b"\n",
        "wrong-type": b"[trust]\nenvironments = 3\n",
        "unknown-environment": b'[trust]\nenvironments = ["nope"]\n',
        "inline-password": (
            b'[trust]\nenvironments = ["int"]\n[[targets]]\nformat = "jks"\npath = "x.jks"\n'
            b'password = "Corpus-Pa55word"\n'
        ),
        "huge-integer": b'[trust]\nenvironments = ["int"]\nx = ' + b"9" * 5000 + b"\n",
    }


_VALID_RECIPE = (
    b'[trust]\nenvironments = ["int"]\n[[targets]]\nformat = "pem"\npath = "out/t.pem"\n'
)


@pytest.mark.parametrize("name", sorted(_recipe_cases()))
def test_malformed_recipes(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Hostile recipe files: a RecipeError naming the file, and one line from build --recipe."""
    recipe = pytest.importorskip("truststore_builder._recipe_toml")
    path = tmp_path / "recipe.toml"
    path.write_bytes(_recipe_cases()[name])
    error = attempt(lambda: recipe.load_recipe(path))
    assert isinstance(error, InputError)
    assert str(path) in str(error)
    assert "Corpus-Pa55word" not in str(error)
    status, _out, err = run_cli(["build", "--recipe", str(path)], capsys)
    assert_one_error_line(status, err, str(path))


def test_every_truncation_of_a_recipe(tmp_path: Path) -> None:
    """A recipe cut at every length: a typed error or a recipe, never anything else."""
    recipe = pytest.importorskip("truststore_builder._recipe_toml")
    path = tmp_path / "recipe.toml"
    for length in range(len(_VALID_RECIPE)):
        path.write_bytes(_VALID_RECIPE[:length])
        error = attempt(lambda: recipe.load_recipe(path))
        if error is not None:
            assert str(path) in str(error), length


def test_a_batch_table_with_an_oversized_field(tmp_path: Path) -> None:
    """A CSV field over the csv module's limit: a RecipeError, not csv.Error."""
    recipe = pytest.importorskip("truststore_builder._recipe_toml")
    (tmp_path / "rows.csv").write_bytes(b'name,cert,key\n"' + b"x" * 200_000 + b'",b,c\n')
    path = tmp_path / "recipe.toml"
    path.write_bytes(
        b'[trust]\nenvironments = ["int"]\n[batch]\ntable = "rows.csv"\n'
        b'[[batch.targets]]\nformat = "keystore-p12"\npath = "out/{name}.p12"\n'
        b'password_env = "PW"\n'
    )
    error = attempt(lambda: recipe.load_recipe(path))
    assert isinstance(error, InputError)
    assert "rows.csv" in str(error)


# --- fuzzing: a fixed budget in CI (nox -s fuzz runs longer) -----------------------------------

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
sys.path.insert(0, str(FUZZ))
fuzz_targets = importlib.import_module("targets")


@pytest.mark.parametrize("loader", sorted(fuzz_targets.TARGETS))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2048))
def test_hypothesis_bytes_never_escape(loader: str, data: bytes) -> None:
    """Arbitrary bytes into every loader: a read, or a TruststoreBuilderError (as fuzz/ checks)."""
    with deadline(_DEADLINE):
        fuzz_targets.run_one(loader, data)


@pytest.mark.slow
@pytest.mark.parametrize("loader", sorted(fuzz_targets.TARGETS))
def test_atheris_harness_runs_briefly(loader: str, tmp_path: Path) -> None:
    """Each coverage-guided harness, 3,000 runs from the seed corpus (fixed seed), finds no crash.

    A fixed seed and run count, not a time budget, so a CI run is repeatable; `nox -s fuzz`
    explores for longer.
    """
    subprocess.run(
        [sys.executable, str(FUZZ / "make_seeds.py"), str(tmp_path)], check=True, timeout=60
    )
    result = subprocess.run(
        [
            sys.executable,
            str(FUZZ / f"fuzz_{loader}.py"),
            str(tmp_path / loader),
            "-seed=1",
            "-runs=3000",
            f"-artifact_prefix={tmp_path}/crash-",
        ],
        capture_output=True,
        text=True,
        cwd=FUZZ,
        env={**os.environ, "PYTHONPATH": str(FUZZ.parent)},
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]


# --- stores from the field: keytool and OpenSSL flavours, read as they list them ----------------


class _Listed(NamedTuple):
    """One entry as keytool lists it: its type and its certificates' SHA-256, chain order."""

    entry_type: str
    fingerprints: tuple[str, ...]


def _keytool_list(store: corpus.FieldStore) -> dict[str, _Listed]:
    """``keytool -list -v`` of a store, entry by entry (without -storepass when it has none)."""
    password = [] if store.password is None else ["-storepass", store.password]
    done = subprocess.run(
        ["keytool", "-list", "-v", "-keystore", str(store.path), "-storetype", store.store_type,
         *password],
        capture_output=True, text=True, encoding="utf-8", stdin=subprocess.DEVNULL, check=False,
        env={**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    listed: dict[str, _Listed] = {}
    for block in done.stdout.split("Alias name: ")[1:]:
        alias = block.split("\n", 1)[0].strip()
        entry_type = block.split("Entry type: ", 1)[1].split("\n", 1)[0].strip()
        fingerprints = tuple(
            line.split("SHA256: ", 1)[1].strip().replace(":", "").lower()
            for line in block.splitlines()
            if "SHA256: " in line
        )
        listed[alias] = _Listed(entry_type, fingerprints)
    return listed


def _openssl_info(store: corpus.FieldStore) -> list[tuple[str, str]]:
    """``openssl pkcs12 -info``: (friendlyName or "", SHA-256) per certificate bag."""
    password = store.password or ""
    done = subprocess.run(
        [
            "openssl",
            "pkcs12",
            "-info",
            "-nokeys",
            "-in",
            str(store.path),
            "-passin",
            f"pass:{password}",
            *(["-legacy"] if "legacy" in store.name else []),
        ],
        capture_output=True,
        text=True,
        encoding="latin-1",
        check=False,
        timeout=60,
    )  # fmt: skip  (OpenSSL prints a BMPString name one byte per character: Latin-1)
    assert done.returncode == 0, done.stderr
    found: list[tuple[str, str]] = []
    name, pem_lines = "", list[str]()
    for line in done.stdout.splitlines():
        if line.startswith("Bag Attributes"):
            name = ""
        elif line.strip().startswith("friendlyName: "):
            name = line.strip().removeprefix("friendlyName: ")
        elif line == "-----BEGIN CERTIFICATE-----" or pem_lines:
            pem_lines.append(line)
            if line == "-----END CERTIFICATE-----":
                certificate = x509.load_pem_x509_certificate("\n".join(pem_lines).encode())
                found.append((name, sha256_fingerprint(certificate)))
                name, pem_lines = "", []
    return found


@pytest.fixture(scope="session")
def field_stores(
    tmp_path_factory: pytest.TempPathFactory,
) -> list[tuple[corpus.FieldStore, dict[str, _Listed], list[tuple[str, str]] | None]]:
    """Every keytool and OpenSSL flavour, made once, with keytool's and OpenSSL's listings."""
    directory = tmp_path_factory.mktemp("field-stores")
    made = []
    for store in corpus.make_field_stores(directory):
        info = _openssl_info(store) if store.store_type == "PKCS12" else None
        made.append((store, _keytool_list(store), info))
    return made


def _outside_bmp(text: str) -> bool:
    return any(ord(char) > 0xFFFF for char in text)


@pytest.mark.slow
def test_every_keytool_and_openssl_flavour_reads_as_they_list_it(
    field_stores: list[tuple[corpus.FieldStore, dict[str, _Listed], list[tuple[str, str]] | None]],
) -> None:
    """Each flavour read entry by entry as keytool -list -v and openssl pkcs12 -info list it.

    Trusted entries, key entries (alias and chain) and every fingerprint as keytool lists them;
    every certificate bag (name and fingerprint) as OpenSSL does. Secret key entries hold no
    certificate: no entry of ours carries their alias.
    """
    flavours = {store.name for store, _, _ in field_stores}
    assert len(flavours) == 10
    for store, listed, info in field_stores:
        where = f"{store.name}: "
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", JksIntegrityNotCheckedWarning)
            entries = files.read_store(store.path, password=store.password)
        if not listed:
            # Java skips an unencrypted key bag (and the certificate paired with it), and a
            # certificate without its trust attribute (-nokeys): keytool lists nothing there.
            # OpenSSL, and we, read the certificates (untrusted, as Java would see them).
            assert store.name in {"openssl-clear", "openssl-nokeys"}, where
            assert not any(e.trusted for e in entries), where
            assert info is not None
            assert sorted(f for _, f in info) == sorted(
                sha256_fingerprint(e.certificate) for e in entries
            )
            continue
        trusted = {e.alias: (sha256_fingerprint(e.certificate),) for e in entries if e.trusted}
        assert trusted == {
            alias: item.fingerprints
            for alias, item in listed.items()
            if item.entry_type == "trustedCertEntry"
        }, where
        every = {f for item in listed.values() for f in item.fingerprints}
        assert {sha256_fingerprint(e.certificate) for e in entries} == every, where
        secret_aliases = {a for a, item in listed.items() if item.entry_type == "SecretKeyEntry"}
        assert not secret_aliases & {e.alias for e in entries}, where
        keys_listed = {
            alias: item.fingerprints
            for alias, item in listed.items()
            if item.entry_type == "PrivateKeyEntry"
        }
        if store.password is not None:
            identities = files.read_identities(
                store.path, password=store.password, key_password=store.key_password
            )
            assert {
                alias: tuple(sha256_fingerprint(c) for c in chain)
                for alias, _key, chain in identities
            } == keys_listed, where
        if info is not None:
            ours = [(e.alias, sha256_fingerprint(e.certificate)) for e in entries]
            assert sorted(f for _, f in info) == sorted(f for _, f in ours), where
            # OpenSSL cannot print a name outside the BMP (it shows "client-=B"): there keytool
            # is the judge of the alias, and OpenSSL of the fingerprint.
            named = {f for a, f in ours if not _outside_bmp(a)}
            assert sorted(i for i in info if i[1] in named) == sorted(
                o for o in ours if o[1] in named
            ), where


# --- cryptography's test vectors: read as OpenSSL reads them, or refused in one typed line ------

_VECTORS = Path(cryptography_vectors.__file__).parent
#: How much the largest resident set may grow while the whole corpus is read.
_MAX_GROWTH_MIB = 300


def _vector_files() -> list[Path]:
    """Every file of cryptography-vectors' x509, pkcs7 and pkcs12 directories."""
    return sorted(
        path
        for directory in ("x509", "pkcs7", "pkcs12")
        for path in (_VECTORS / directory).rglob("*")
        if path.is_file()
    )


def _vector_password(path: Path) -> bytes | None:
    """The password cryptography's own tests give each PKCS#12 vector."""
    if path.suffix != ".p12":
        return None
    if "PKITS_data" in path.parts or path.name.endswith("-pwd.p12"):
        return None if path.name.endswith("no-pwd.p12") else b"password"
    return b"cryptography" if path.name.startswith(("cert-", "no-cert-key")) else None


def _openssl_fingerprints(path: Path, fmt: str, password: bytes | None) -> list[str] | None:
    """The SHA-256 of every certificate OpenSSL finds in a file, or None if it refuses it."""
    if fmt == "pkcs12":
        secret = (password or b"").decode()
        commands = [
            ["openssl", "pkcs12", "-in", str(path), "-nokeys", "-passin", f"pass:{secret}"],
            ["openssl", "pkcs12", "-legacy", "-in", str(path), "-nokeys", "-passin",
             f"pass:{secret}"],
        ]  # fmt: skip
    elif fmt == "pkcs7":
        inform = "PEM" if path.read_bytes().lstrip().startswith(b"-----") else "DER"
        commands = [["openssl", "pkcs7", "-inform", inform, "-in", str(path), "-print_certs"]]
    else:
        # storeutl reads DER and PEM; crl2pkcs7 also steps over text and headers around PEM.
        commands = [
            ["openssl", "storeutl", "-certs", str(path)],
            ["sh", "-c", 'openssl crl2pkcs7 -nocrl -certfile "$0" | openssl pkcs7 -print_certs',
             str(path)],
        ]  # fmt: skip
    for command in commands:
        done = subprocess.run(command, capture_output=True, check=False, timeout=60)
        if done.returncode == 0:
            return _pem_fingerprints(done.stdout)
    if fmt == "pem":
        # OpenSSL refuses a whole file for one broken non-certificate block (a "PRIVATE KEY"
        # that is a URL in base64), which our PEM reader skips: OpenSSL then reads each
        # certificate block on its own.
        text = path.read_bytes()
        blocks = re.findall(
            rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.DOTALL
        )
        printed = b""
        for block in blocks:
            done = subprocess.run(
                ["openssl", "x509"], input=block, capture_output=True, check=False, timeout=60
            )
            if done.returncode != 0:
                return None
            printed += done.stdout
        return _pem_fingerprints(printed)
    return None


def _pem_fingerprints(text: bytes) -> list[str]:
    blocks = text.split(b"-----BEGIN CERTIFICATE-----")[1:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a vector's serial that is not positive, read as it is
        return sorted(
            sha256_fingerprint(
                x509.load_pem_x509_certificate(b"-----BEGIN CERTIFICATE-----" + block)
            )
            for block in blocks
        )


@pytest.mark.slow
def test_every_cryptography_vector_reads_as_openssl_reads_it_or_is_refused_in_one_line() -> None:
    """Every PKCS#12, PKCS#7, certificate (and CRL, pair, S/MIME) file of cryptography-vectors.

    Each is read, with the same SHA-256 fingerprints OpenSSL gives for it, or refused with one
    of our typed errors in one line naming it; none takes more than a few seconds, and the
    whole corpus grows the resident set by less than a few hundred MB.
    """
    paths = _vector_files()
    assert len(paths) > 1500
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    read, refused, mismatched = 0, 0, []
    started = time.monotonic()
    for path in paths:
        password = _vector_password(path)
        entries: list[StoreEntry] = []
        error = attempt(partial(_extend_from, entries, path, password), 10)
        if error is not None:
            refused += 1
            assert str(path) in str(error), error
            assert "\n" not in str(error), error
            assert not str(error).startswith("internal error"), error
            continue
        read += 1
        ours = sorted(sha256_fingerprint(e.certificate) for e in entries)
        fmt = files.detect_format(path.read_bytes(), str(path))
        if _openssl_fingerprints(path, fmt, password) != ours:
            mismatched.append(path.relative_to(_VECTORS))
    elapsed = time.monotonic() - started
    growth_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    print(f"cryptography-vectors: {read} read, {refused} refused, {elapsed:.1f} s")  # noqa: T201
    assert mismatched == []
    assert read > 900
    assert growth_mib < _MAX_GROWTH_MIB


def _extend_from(entries: list[StoreEntry], path: Path, password: bytes | None) -> None:
    entries.extend(files.read_store(path, password=password))
