"""``inspect`` of an estate: several stores or directories, reported together, with report files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from truststore_builder._cli.errors import UsageError
from truststore_builder._cli.options import store_password
from truststore_builder._cli.output import dump_json, iso_date, out, say
from truststore_builder._cli.progress import TerminalProgress
from truststore_builder._errors import InputError, PasswordMapError
from truststore_builder._estate import (
    DEFAULT_WITHIN_DAYS,
    estate_page,
    load_password_map,
    scan_estate,
)
from truststore_builder._formats.openmetrics import render_openmetrics
from truststore_builder._writing import check_destinations, write_files

if TYPE_CHECKING:
    import argparse

    from truststore_builder._estate import EstateReport, PasswordMap

__all__ = ["inspect_estate"]


def inspect_estate(args: argparse.Namespace) -> int:
    """Scan, write the report files asked for, print the report; 2 if a store was unreadable.

    Else 1 when ``--fail-within`` was given and a certificate expires within it, else 0.
    """
    passwords = _password_map(args.password_map) if args.password_map else None
    password = store_password(args)
    outputs = [p for p in (args.json_out, args.metrics, args.html) if p is not None]
    # Before a store is read: a report file that may not be replaced stops the run now.
    check_destinations(outputs, overwrite=args.force)
    window = DEFAULT_WITHIN_DAYS if args.fail_within is None else args.fail_within
    report = scan_estate(
        args.paths,
        passwords=passwords,
        password=password,
        at=args.at,
        within_days=window,
        workers=args.workers,
        progress=TerminalProgress.for_stream(sys.stderr, noun="stores"),
    )
    _refuse_replacing_a_store(outputs, report)
    _write_reports(args, report)
    if args.json:
        dump_json(report.to_dict())
    else:
        out(str(report))
    for store in report.unreadable:
        say(sys.stderr, "error", f"unreadable: {store.error}")
    status = 0
    if args.fail_within is not None and report.expiring:
        status = 1
        names = ", ".join(
            f"{store.path}: {certificate.label} ("
            f"{'expired' if certificate.not_after < report.at else 'expires'} "
            f"{iso_date(certificate.not_after)})"
            for store, certificate in report.expiring
        )
        count = len(report.expiring)
        say(
            sys.stderr,
            "error",
            f"{count} {'certificate expires' if count == 1 else 'certificates expire'} within "
            f"{args.fail_within} days (--fail-within): {names}",
        )
    # Each unreadable store has had its line; the table's last line counts them.
    return 2 if report.unreadable else status


def _refuse_replacing_a_store(outputs: list[Path], report: EstateReport) -> None:
    """A report file named like a store just read is a slip (even with --force): refuse it.

    Raises:
        UsageError: A report's destination is one of the stores (nothing is written).
    """
    stores = {Path(store.path).resolve() for store in report.stores if store.readable}
    for path in outputs:
        if path.resolve() in stores:
            msg = f"{path}: is one of the stores being inspected; a report never replaces a store"
            raise UsageError(msg)


def _password_map(path: Path) -> PasswordMap:
    """The map, or a usage error that does not echo a path that may be a password typed there.

    Raises:
        UsageError: The file cannot be read.
        PasswordMapError: It can be read and is refused (the message names the map's file).
    """
    try:
        return load_password_map(path)
    except PasswordMapError:
        raise
    except InputError as exc:
        reason = str(exc).removeprefix(f"{exc.source}: ")
        msg = f"--password-map: cannot read the file it names ({reason}; its path is not shown)"
        raise UsageError(msg) from None


def _write_reports(args: argparse.Namespace, report: EstateReport) -> None:
    planned: list[tuple[Path, bytes, bool]] = []
    if args.json_out is not None:
        text = json.dumps(report.to_dict(), indent=2) + "\n"
        planned.append((args.json_out, text.encode("utf-8"), False))
    if args.metrics is not None:
        planned.append((args.metrics, render_openmetrics(report.metric_families()), False))
    if args.html is not None:
        planned.append((args.html, estate_page(report).encode("utf-8"), False))
    if planned:
        write_files(planned, overwrite=args.force)
