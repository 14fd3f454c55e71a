"""Readable text for people: tables of store entries with expiry marked, never a secret."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from truststore_builder._model import TrustedEntry

__all__ = ["SOON", "entries_table", "expiry_status"]

#: How close an expiry must be to be marked as soon.
SOON = dt.timedelta(days=90)


def expiry_status(not_before: dt.datetime, not_after: dt.datetime, at: dt.datetime) -> str:
    """``expired``, ``not yet valid``, ``expires in N days`` (within :data:`SOON`) or ``valid``."""
    if at > not_after:
        return "expired"
    if at < not_before:
        return "not yet valid"
    if not_after - at <= SOON:
        return f"expires in {(not_after - at).days} days"
    return "valid"


def entries_table(entries: Sequence[TrustedEntry], at: dt.datetime) -> str:
    """A fixed-width table: alias, NHS name and generation, not-after, status, SHA-256 prefix."""
    rows = [("alias", "name", "gen", "not after", "status", "sha256")]
    rows.extend(
        (
            entry.alias,
            entry.nhs.name if entry.nhs else entry.subject,
            entry.nhs.generation.value if entry.nhs else "-",
            f"{entry.not_after:%Y-%m-%d}",
            expiry_status(entry.not_before, entry.not_after, at),
            entry.sha256[:16],
        )
        for entry in entries
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines)
