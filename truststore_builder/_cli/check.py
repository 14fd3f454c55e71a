"""``check``: a live endpoint's chain, and whether it accepts each client identity."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from truststore_builder._cli.errors import UsageError
from truststore_builder._cli.options import (
    Parser,
    add_catalogue_option,
    add_common_options,
    chosen_catalogue,
    whole_days,
)
from truststore_builder._cli.output import dump_json, iso_date, out, say, table
from truststore_builder._errors import InputError
from truststore_builder._model import Environment
from truststore_builder._sources.files import read_input
from truststore_builder._writing import check_destinations, write_atomically

if TYPE_CHECKING:
    from collections.abc import Sequence

    from truststore_builder._endpoint import CertificateExpiry, EndpointReport


def _identity_option(text: str) -> tuple[str, Path, Path]:
    name, sep, files = text.partition("=")
    cert, comma, key = files.partition(",")
    if not (sep and comma and name.strip() and cert.strip() and key.strip()):
        msg = f"not NAME=CERT,KEY: {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return name.strip(), Path(cert.strip()), Path(key.strip())


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        msg = f"not a positive number of seconds: {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _positive_integer(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        msg = f"not a whole number of 1 or more: {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def _http_path(text: str) -> str:
    from truststore_builder._endpoint import check_http_path  # noqa: PLC0415 - start-up time: ssl, sockets

    try:
        return check_http_path(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    """Add the ``check`` subcommand to ``commands``."""
    check = commands.add_parser(
        "check",
        help="check that a live endpoint presents a good chain and accepts G1/G2 identities",
        description=(
            "Connect to HOST:PORT over TLS: report the certificate chain the server presents "
            "(subjects, issuers, NHS generation, expiry, whether it verifies against the "
            "environment's G1+G2 CAs or --trust, whether its name matches) and whether it "
            "asks for a client certificate; then, for each --identity, whether the server "
            "accepts it: after each handshake it sends GET / (or --path) and reads the reply, "
            "so 'accepted' means the server saw that certificate and served the request, and "
            "'refused' gives the server's own words (a TLS alert, a close before any reply, "
            "nginx's 400, Apache's 403). 'not-sent': the server's request allows no signature "
            "algorithm the identity's key can make. The connection without a certificate, "
            "probed the same way, tells an optional client certificate from a required one. "
            "NHS England's Stage 1 test is one G1 and one G2 identity against each endpoint."
        ),
        epilog=(
            "Identity files are PEM: the certificate first (its chain may follow) and an "
            "unencrypted key (encrypted keys are not supported; key paths may be printed, "
            "key contents never). Exit status: 0 every endpoint's chain verifies, its name "
            "matches, every identity is accepted and (with --fail-within) nothing it presents "
            "expires within DAYS; 1 otherwise, every reason reported; 2 a usage error, an "
            "unreadable file or a report that cannot be written (after the check, which is "
            "still printed)."
        ),
    )
    add_common_options(check)
    check.add_argument(
        "endpoint", nargs="?", metavar="HOST:PORT", help="the endpoint (port 443 if left out)"
    )
    target = check.add_mutually_exclusive_group()
    target.add_argument(
        "--env",
        choices=[e.value for e in Environment],
        help="verify the server's chain against this",
    )
    target.add_argument(
        "--trust", type=Path, metavar="FILE", help="verify the server's chain against these CAs"
    )
    check.add_argument(
        "--identity",
        action="append",
        default=[],
        type=_identity_option,
        metavar="NAME=CERT,KEY",
        help="a client identity to try (e.g. g2=client-chain.pem,client-key.pem); repeatable",
    )
    _add_connection_options(check)
    check.add_argument("--json", action="store_true", help="print a JSON report")
    check.add_argument(
        "--fail-within",
        metavar="DAYS",
        type=whole_days,
        help=(
            "exit 1 if the leaf or any chain certificate an endpoint presents expires within "
            "DAYS days (an expired one always counts), naming each"
        ),
    )
    check.add_argument(
        "--json-out", type=Path, metavar="FILE", help="write the JSON report to FILE too"
    )
    check.add_argument(
        "--metrics",
        type=Path,
        metavar="FILE",
        help=(
            "write an OpenMetrics file for node exporter's textfile collector (FILE.prom): "
            "each presented certificate's expiry, each identity's outcome, reachability"
        ),
    )
    check.add_argument(
        "--force", action="store_true", help="replace the --json-out or --metrics file if it exists"
    )
    check.add_argument(
        "--from-file",
        type=Path,
        metavar="FILE",
        help="check every HOST:PORT in FILE, one a line ('#' starts a comment)",
    )
    check.add_argument(
        "--concurrency",
        type=_positive_integer,
        default=8,
        metavar="N",
        help="how many endpoints are checked at once with --from-file (default: 8)",
    )
    add_catalogue_option(check)
    check.set_defaults(handler=_check)


def _add_connection_options(check: argparse.ArgumentParser) -> None:
    """How each connection is made and what is sent over it."""
    check.add_argument(
        "--server-name",
        metavar="NAME",
        help="the name to send (SNI) and match the certificate to (default: HOST)",
    )
    check.add_argument(
        "--timeout",
        type=_positive_number,
        default=10.0,
        metavar="SECONDS",
        help="for each connection, from the TCP connect to the end of the reply (default: 10)",
    )
    check.add_argument(
        "--probe",
        choices=["http", "tls"],
        default="http",
        help=(
            "after the handshake: http sends GET PATH and judges the reply (default); tls "
            "judges the TLS exchange alone, for a server that speaks no HTTP"
        ),
    )
    check.add_argument(
        "--path",
        default="/",
        type=_http_path,
        metavar="PATH",
        help="the path of the HTTP request (default: /)",
    )
    check.add_argument(
        "--tls-version",
        choices=["1.2", "1.3"],
        help="connect with this TLS version only (default: either, as the server chooses)",
    )


def _check_endpoints_of(args: argparse.Namespace) -> list[tuple[str, int]]:
    from truststore_builder._endpoint import parse_endpoint  # noqa: PLC0415 - start-up time: ssl, sockets

    lines: list[tuple[str, str]] = []
    if args.endpoint is not None:
        lines.append(("command line", args.endpoint))
    if args.from_file is not None:
        try:
            text = read_input(args.from_file, what="endpoint list").decode("utf-8")
        except (InputError, UnicodeDecodeError) as exc:
            msg = f"{args.from_file}: cannot read the endpoint list ({exc})"
            raise UsageError(msg) from None
        for number, line in enumerate(text.splitlines(), 1):
            entry = line.split("#", 1)[0].strip()
            if entry:
                lines.append((f"{args.from_file}:{number}", entry))
    if not lines:
        msg = "give an endpoint HOST:PORT, or --from-file FILE"
        raise UsageError(msg)
    endpoints = []
    for where, entry in lines:
        try:
            endpoints.append(parse_endpoint(entry))
        except ValueError as exc:
            msg = f"{where}: {exc}"
            raise UsageError(msg) from None
    return endpoints


def _check(args: argparse.Namespace) -> int:
    from truststore_builder._endpoint import check_endpoints  # noqa: PLC0415 - start-up time: ssl, sockets

    if args.env is None and args.trust is None:
        msg = "give --env ENV or --trust FILE to verify the server's chain against"
        raise UsageError(msg)
    endpoints = _check_endpoints_of(args)
    names = [name for name, _, _ in args.identity]
    if len(set(names)) != len(names):
        msg = f"--identity names must be unique: {', '.join(names)}"
        raise UsageError(msg)
    outputs = [path for path in (args.json_out, args.metrics) if path is not None]
    if len(set(outputs)) != len(outputs):
        msg = "--json-out and --metrics must name different files"
        raise UsageError(msg)
    # Refused before connecting anywhere: an existing file without --force, or a directory.
    check_destinations(outputs, overwrite=args.force)
    reports = check_endpoints(
        endpoints,
        concurrency=args.concurrency,
        environment=args.env,
        trust=args.trust,
        identities=args.identity,
        server_name=args.server_name,
        timeout=args.timeout,
        probe=args.probe,
        path=args.path,
        tls_version=args.tls_version,
        catalogue=chosen_catalogue(args),
    )
    expiring = (
        [(report, item) for report in reports for item in report.expiring_within(args.fail_within)]
        if args.fail_within is not None
        else []
    )
    ok = all(report.ok for report in reports) and not expiring
    document = {
        "ok": ok,
        "fail_within": args.fail_within,
        "endpoints": [report.to_dict(within_days=args.fail_within) for report in reports],
    }
    if args.json:
        dump_json(document)
    else:
        _print_reports(reports, args.fail_within)
        if args.from_file is not None:
            out(_summary_table(reports, names, args.fail_within))
    if expiring:
        _say_expiring(expiring, args.fail_within)
    _write_reports(args, document, reports)
    return 0 if ok else 1


def _print_reports(reports: Sequence[EndpointReport], fail_within: int | None) -> None:
    for report in reports:
        out(report.summary())
        server = report.server
        if server is not None:
            for i, link in enumerate(server.presented):
                known = f" [{link.nhs.name}, {link.nhs.generation}]" if link.nhs else ""
                out(
                    f"  presented[{i}] {link.subject}{known} "
                    f"(issuer {link.issuer}; expires {link.not_after:%Y-%m-%d})"
                )
            for failure in server.failures:
                out(f"  FAILED {failure}")
            for line in _expiry_lines(report, fail_within):
                out(line)
        if report.requested_issuers:
            out(f"  asks for certificates from: {'; '.join(report.requested_issuers)}")
        for result in (report.probe, *report.identities):
            label = result.name or "(no certificate)"
            out(f"  {label}: {result.outcome.value}: {result.detail}")


def _expiry_lines(report: EndpointReport, fail_within: int | None) -> list[str]:
    """The leaf's and the chain's days left, what expires first, and what expires too soon."""
    expiries = report.expiries
    earliest = report.earliest_expiry
    if not expiries or earliest is None:
        return []
    leaf, chain = expiries[0], expiries[1:]
    line = f"  leaf expires {leaf.when}"
    if chain:
        line += "; chain: " + ", ".join(f"presented[{e.index}] {e.when}" for e in chain)
    lines = [line, f"  expires first: {earliest.label} on {earliest.when}"]
    if fail_within is not None:
        lines.extend(
            f"  EXPIRES WITHIN {fail_within} DAYS: {item.label} on {item.when}"
            for item in report.expiring_within(fail_within)
        )
    return lines


def _summary_table(
    reports: Sequence[EndpointReport], identities: Sequence[str], fail_within: int | None
) -> str:
    """One row per endpoint: the chain, each identity's outcome, the leaf's expiry, the verdict."""
    rows = [("endpoint", "chain", *identities, "leaf expires", "days left", "result")]
    for report in reports:
        server = report.server
        if server is None:
            chain = report.probe.outcome.value
        elif not server.verified:
            chain = "does not verify"
        else:
            chain = "verifies" if server.name_matches else "name mismatch"
        outcomes = {result.name: result.outcome.value for result in report.identities}
        expiries = report.expiries
        leaf = expiries[0] if expiries else None
        expiring = fail_within is not None and bool(report.expiring_within(fail_within))
        verdict = "OK" if report.ok else "FAIL"
        if expiring:
            verdict = "EXPIRES" if report.ok else "FAIL, EXPIRES"
        rows.append(
            (
                report.address,
                chain,
                *(outcomes.get(name, "-") for name in identities),
                iso_date(leaf.not_after) if leaf else "-",
                str(leaf.days_left) if leaf else "-",
                verdict,
            )
        )
    return "\n" + table(rows)


def _say_expiring(
    expiring: Sequence[tuple[EndpointReport, CertificateExpiry]], fail_within: int
) -> None:
    """One line on stderr naming every presented certificate that expires within the window."""
    count = len(expiring)
    names = ", ".join(f"{report.address} {item.label} on {item.when}" for report, item in expiring)
    say(
        sys.stderr,
        "error",
        f"{count} presented {'certificate expires' if count == 1 else 'certificates expire'} "
        f"within {fail_within} days (--fail-within): {names}",
    )


def _write_reports(
    args: argparse.Namespace, document: dict[str, object], reports: Sequence[EndpointReport]
) -> None:
    """Write --json-out and --metrics, each atomically (mode 0644)."""
    from truststore_builder._endpoint import endpoint_metrics  # noqa: PLC0415 - start-up time: ssl, sockets
    from truststore_builder._formats.openmetrics import render_openmetrics  # noqa: PLC0415 - start-up time

    if args.json_out is not None:
        data = (json.dumps(document, indent=2) + "\n").encode("utf-8")
        write_atomically(args.json_out, data, overwrite=args.force)
    if args.metrics is not None:
        data = render_openmetrics(endpoint_metrics(reports))
        write_atomically(args.metrics, data, overwrite=args.force)
