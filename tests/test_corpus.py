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

import contextlib
import importlib
import os
import random
import signal
import subprocess
import sys
import time
import warnings
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import corpus
from truststore_builder import InputError, MalformedInputError, TruststoreBuilderError, _cli
from truststore_builder._formats import jks, pkcs12
from truststore_builder._sources import files

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from truststore_builder._model import StoreEntry

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


def test_a_file_without_read_permission(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Permission denied (simulated: root reads anything): a typed error naming the file."""
    path = tmp_path / "locked.p12"
    path.write_bytes(ORIGINALS.files["p12"])
    real_read_bytes = Path.read_bytes
    real_open = Path.open

    def refuse(self: Path) -> bytes:
        if self.name == "locked.p12":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    def refuse_open(self: Path, *args: object, **kwargs: object) -> object:
        if self.name == "locked.p12":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "read_bytes", refuse)
    monkeypatch.setattr(Path, "open", refuse_open)
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
    recipe = pytest.importorskip("truststore_builder._recipe")
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
    recipe = pytest.importorskip("truststore_builder._recipe")
    path = tmp_path / "recipe.toml"
    for length in range(len(_VALID_RECIPE)):
        path.write_bytes(_VALID_RECIPE[:length])
        error = attempt(lambda: recipe.load_recipe(path))
        if error is not None:
            assert str(path) in str(error), length


def test_a_batch_table_with_an_oversized_field(tmp_path: Path) -> None:
    """A CSV field over the csv module's limit: a RecipeError, not csv.Error."""
    recipe = pytest.importorskip("truststore_builder._recipe")
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
