"""Case 6 worker: build one trust store from N certificates, in its own process.

Usage: ``python bench/_scale.py CERTS.pem FORMAT`` (FORMAT ``pem`` or ``p12``). Prints one
JSON line: seconds per phase and the process's peak resident memory (ru_maxrss).

The certificates are added twice over (every tenth one a second time) so that
de-duplication has work to do, and they share one subject so that every alias clashes.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import warnings
from pathlib import Path

from cryptography import x509

from truststore_builder import ExpiredCertificateWarning, TrustStoreBuilder


def main() -> None:
    """Load, build and serialise (with the library's read-back check); print the timings."""
    source, fmt = Path(sys.argv[1]), sys.argv[2]
    t0 = time.perf_counter()
    certificates = x509.load_pem_x509_certificates(source.read_bytes())
    t1 = time.perf_counter()
    builder = TrustStoreBuilder().add_certificates(certificates, source=str(source))
    builder = builder.add_certificates(certificates[::10], source="again")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExpiredCertificateWarning)
        store = builder.build()
    t2 = time.perf_counter()
    data = store.to_pem() if fmt == "pem" else store.to_pkcs12("bench-password")
    t3 = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "certificates": len(certificates),
                "entries": len(store),
                "format": fmt,
                "bytes": len(data),
                "load_s": t1 - t0,
                "build_s": t2 - t1,
                "serialize_s": t3 - t2,
                "total_s": t3 - t0,
                "maxrss_mib": usage.ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
