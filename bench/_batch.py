"""Case 5 worker: many client PKCS#12 key stores (modern profile) in one process, two cores.

Usage: ``python bench/_batch.py CLIENT_DIR OUT_DIR WORKERS [--no-read-back]`` with the
password in ``$BENCH_PW``. CLIENT_DIR holds ``ca.pem`` and ``client-NNNN.pem`` / ``client-NNNN.key``;
each client gets ``OUT_DIR/client-NNNN.p12``: its key entry with the verified chain, plus the
prod NHS G1+G2 CAs and the bench CA as trusted entries, each file read back before writing.

This drives the library's Python API (KeyStoreBuilder, KeyStore.to_pkcs12) through a
ProcessPoolExecutor, as a reference beside the recipe batch. ``--no-read-back`` calls the
PKCS#12 encoder directly and skips the read-back check: the library offers no such mode; it
is here to measure what the check costs.
"""

from __future__ import annotations

import os
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from truststore_builder import (
    ExpiredCertificateWarning,
    KeyStore,
    KeyStoreBuilder,
    load_certificates,
)
from truststore_builder._formats import pkcs12
from truststore_builder._writing import write_atomically

_BASE: KeyStoreBuilder | None = None


def _init(ca_file: str) -> None:
    """Per worker: one shared, immutable builder holding the trusted CAs."""
    global _BASE  # noqa: PLW0603
    warnings.simplefilter("ignore", ExpiredCertificateWarning)
    _BASE = KeyStoreBuilder().add_nhs("prod").add_trusted_certificates(load_certificates(ca_file))


def _encode_only(keystore: KeyStore, password: str) -> bytes:
    """The PKCS#12 bytes as to_pkcs12 makes them, without its read-back check."""
    return pkcs12.serialize_pkcs12_keystore(
        alias=keystore.identity.alias,
        key=keystore.identity.key,
        chain=keystore.chain,
        trusted=[(e.alias, e.certificate) for e in keystore.trust_store.entries],
        password=password.encode(),
    )


def _build_many(jobs: list[tuple[str, str, str]], read_back: bool) -> int:  # noqa: FBT001
    assert _BASE is not None
    password = os.environ["BENCH_PW"]
    for cert, key, out in jobs:
        keystore = _BASE.with_identity(cert, key).build()
        data = keystore.to_pkcs12(password) if read_back else _encode_only(keystore, password)
        write_atomically(Path(out), data, overwrite=True, private=True)
    return len(jobs)


def main() -> None:
    """Build every client's key store; print how many."""
    clients, out, workers = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    read_back = "--no-read-back" not in sys.argv[4:]
    out.mkdir(parents=True, exist_ok=True)
    jobs = [
        (str(cert), str(cert.with_suffix(".key")), str(out / f"{cert.stem}.p12"))
        for cert in sorted(clients.glob("client-*.pem"))
    ]
    # A few large chunks: one task per client would spend its time pickling.
    chunks = [jobs[i :: workers * 4] for i in range(workers * 4)]
    with ProcessPoolExecutor(
        workers, initializer=_init, initargs=(str(clients / "ca.pem"),)
    ) as pool:
        done = sum(pool.map(_build_many, chunks, [read_back] * len(chunks)))
    print(done)


if __name__ == "__main__":
    main()
