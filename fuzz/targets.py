"""The fuzz targets: one per loader, each feeding arbitrary bytes to it.

A target returns normally when the loader reads the bytes or refuses them with a
TruststoreBuilderError; anything else escaping (a dependency's exception, a pyo3
PanicException, a RecursionError) is a crash for atheris to report, and then a regression
case for tests/corpus.py.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from truststore_builder import TruststoreBuilderError
from truststore_builder._formats import der, jks, keys, pem, pkcs7, pkcs12
from truststore_builder._sources import files

if TYPE_CHECKING:
    from collections.abc import Callable

_PASSWORD = b"Corpus-Pa55word"
_SOURCE = "<fuzz>"
_SCRATCH = Path(tempfile.gettempdir()) / f"truststore-builder-fuzz-{os.getpid()}.toml"
atexit.register(_SCRATCH.unlink, missing_ok=True)


def _recipe(data: bytes) -> None:
    from truststore_builder._recipe_toml import load_recipe  # noqa: PLC0415

    _SCRATCH.write_bytes(data)
    load_recipe(_SCRATCH)


def _refused_or(
    load: Callable[[bytes, bytes | None, str], object], data: bytes, password: None
) -> object:
    """Read ``data`` without a password; a refusal is an answer, and the next readings run."""
    with contextlib.suppress(TruststoreBuilderError):
        return load(data, password, _SOURCE)
    return None


#: Loader name to a function of the fuzzer's bytes.
TARGETS: dict[str, Callable[[bytes], object]] = {
    "store": lambda data: files.read_store(data, password=_PASSWORD),
    "pem": lambda data: pem.load_pem_certificates(data, _SOURCE),
    "der": lambda data: der.load_der_certificate(data, _SOURCE),
    "pkcs7": lambda data: pkcs7.load_pkcs7_certificates(data, _SOURCE),
    "pkcs12": lambda data: (
        # Without a password first (a refusal there must not stop the readings with one): a
        # store without MAC is read from its certificates in clear.
        _refused_or(pkcs12.load_pkcs12_store, data, None),
        pkcs12.load_pkcs12_store(data, _PASSWORD, _SOURCE),
        pkcs12.load_pkcs12_identities(data, _PASSWORD, _SOURCE),
    ),
    "jks": lambda data: (
        # Without a password first: the digest is not read (as Java does); a warning says so.
        _refused_or(jks.load_jks_store, data, None),
        jks.load_jks_store(data, _PASSWORD, _SOURCE),
        jks.load_jks_identities(data, _PASSWORD, _SOURCE),
    ),
    "key": lambda data: (
        keys.load_private_key(data, None, _SOURCE),
        # Through the reader the library uses: it checks an encrypted key's KDF work first.
        files.read_private_key(data, password=_PASSWORD),
    ),
    "recipe": _recipe,
}


def run_one(name: str, data: bytes) -> None:
    """Feed ``data`` to the named loader; only a TruststoreBuilderError may come out."""
    with warnings.catch_warnings():
        # read_store promises no warning escapes; the bare format loaders may let
        # cryptography's deprecation warnings through, which are not crashes.
        warnings.simplefilter("error" if name == "store" else "ignore")
        with contextlib.suppress(TruststoreBuilderError):
            TARGETS[name](data)
