"""A supplier's whole estate: every store under some paths, and when each expires.

>>> from truststore_builder.estate import scan_estate
>>> report = scan_estate([])
>>> report.stores, report.ok
((), True)

:func:`scan_estate` reads every store under files and directories (recursively), each with the
password a :class:`PasswordMap` (:func:`load_password_map`) names for it, and reports each:
entries, key entries, what expires first, retired and impostor NHS CAs, missing G2 CAs. The
:class:`EstateReport` gives JSON (``to_dict()``), Prometheus metrics
(``metric_families()``, written by :func:`write_metrics`), text, and HTML: a page with an
expiry timeline (:func:`estate_page`), whose timeline a notebook shows.
"""

from __future__ import annotations

from truststore_builder._estate import (
    DEFAULT_WITHIN_DAYS,
    CertificateFinding,
    EstateReport,
    PasswordMap,
    PasswordRule,
    StoreReport,
    estate_page,
    load_password_map,
    scan_estate,
    timeline_svg,
)
from truststore_builder._formats.openmetrics import write_openmetrics as write_metrics

__all__ = [
    "DEFAULT_WITHIN_DAYS",
    "CertificateFinding",
    "EstateReport",
    "PasswordMap",
    "PasswordRule",
    "StoreReport",
    "estate_page",
    "load_password_map",
    "scan_estate",
    "timeline_svg",
    "write_metrics",
]
