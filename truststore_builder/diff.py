"""Compare two stores, and find what in a store expires first.

>>> from truststore_builder import TrustStoreBuilder
>>> from truststore_builder.diff import diff_stores
>>> g1_and_g2 = TrustStoreBuilder().add_nhs("int").build()
>>> g2_only = TrustStoreBuilder().add_nhs("int", generations=["g2"]).build()
>>> [entry.alias for entry in diff_stores(g1_and_g2, g2_only).removed]
['nhs-ptl-root-authority', 'nhs-int-level-1c']

:func:`diff_stores` is the review step before a new store replaces an old one: certificate
entries are matched by SHA-256 fingerprint whatever the two files' formats, key entries by
alias, then by public key. :func:`expiry_horizon` tells which entry expires first and which
expire within a window.
"""

from __future__ import annotations

from truststore_builder._diff import (
    DiffEntry,
    Horizon,
    HorizonEntry,
    KeptEntry,
    KeyEntry,
    KeyEntryChange,
    StoreDiff,
    diff_stores,
    expiry_horizon,
)

__all__ = [
    "DiffEntry",
    "Horizon",
    "HorizonEntry",
    "KeptEntry",
    "KeyEntry",
    "KeyEntryChange",
    "StoreDiff",
    "diff_stores",
    "expiry_horizon",
]
