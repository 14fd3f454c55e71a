"""The ``truststore-builder`` command line: a thin layer over the library.

Exit status: 0 on success, 1 when a check refuses the build, 2 for usage errors and input that
cannot be read. Errors go to stderr as one line that names the file and what is wrong; the
traceback only with ``--debug``. Passwords are read from an environment variable or a file,
never from the command line, and are never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from truststore_builder._errors import (
    CheckError,
    ExpiredCertificateWarning,
    InputError,
    MissingPasswordError,
    ReadBackError,
    TruststoreBuilderError,
    TruststoreBuilderWarning,
)
from truststore_builder._model import Environment, Generation, StoreFormat, sha256_fingerprint

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Sequence

    from truststore_builder._model import NhsCa, TrustedEntry, TrustStore

__all__ = ["build_parser", "main"]

PROG = "truststore-builder"

#: The formats ``build --formats`` accepts, in the order files are written and reported.
BUILD_FORMATS = (StoreFormat.PEM, StoreFormat.PKCS12, StoreFormat.JKS, StoreFormat.PKCS7)
DEFAULT_BUILD_FORMATS = "pem,p12,jks"
#: The formats ``convert --to`` writes.
CONVERT_FORMATS = ("pem", "der", "p7b")
_CONVERT_SUFFIXES = {".pem": "pem", ".crt": "pem", ".der": "der", ".p7b": "p7b", ".p7c": "p7b"}
#: The name every ``build`` output file takes, before its format's suffix.
STORE_STEM = "truststore"


class UsageError(Exception):
    """A command line that cannot be carried out as written (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, raised rather than printed and exited."""

    def error(self, message: str) -> NoReturn:
        """Raise :class:`UsageError` with ``message`` and where to find help."""
        msg = f"{message} (see {self.prog} --help)"
        raise UsageError(msg)


# --- argument types -------------------------------------------------------------------------


def _comma_list(text: str, allowed: Sequence[str], what: str) -> list[str]:
    items = [item.strip().lower() for item in text.split(",") if item.strip()]
    if not items:
        msg = f"no {what} given; choose from {','.join(allowed)}"
        raise argparse.ArgumentTypeError(msg)
    unknown = [item for item in items if item not in allowed]
    if unknown:
        msg = f"unknown {what} {','.join(unknown)}; choose from {','.join(allowed)}"
        raise argparse.ArgumentTypeError(msg)
    return list(dict.fromkeys(items))


def _generations(text: str) -> list[str]:
    return _comma_list(text, [g.value for g in Generation], "generation")


def _formats(text: str) -> list[str]:
    return _comma_list(text, [f.value for f in BUILD_FORMATS], "format")


# --- the parser -----------------------------------------------------------------------------


def _add_password_options(parser: argparse.ArgumentParser, what: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--password-env",
        metavar="VAR",
        help=f"read {what} from the environment variable VAR",
    )
    group.add_argument(
        "--password-file",
        metavar="FILE",
        type=Path,
        help=f"read {what} from FILE (one trailing newline, LF or CRLF, is removed)",
    )


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a subcommand's --debug must not reset one given before the subcommand.
    parser.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an error",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the command line's parser (the CLI reference in the docs is generated from it).

    Returns:
        The parser for ``truststore-builder`` and its subcommands.
    """
    parser = _Parser(
        prog=PROG,
        description=(
            "Build the trust stores NHS systems need for the G1 to G2 PKI move: the NHS CAs "
            "of an environment, checked against pinned fingerprints, written as PEM, "
            "PKCS#12, JKS or PKCS#7."
        ),
        epilog=(
            "Exit status: 0 success, 1 a check refused the build, 2 a usage error or input "
            "that cannot be read."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    # nhs list
    nhs = commands.add_parser(
        "nhs",
        help="the NHS CA catalogue shipped with truststore_builder",
        description="The NHS CA catalogue shipped with truststore_builder.",
    )
    _add_common_options(nhs)
    nhs_commands = nhs.add_subparsers(dest="nhs_command", metavar="COMMAND", required=True)
    nhs_list = nhs_commands.add_parser(
        "list",
        help="list every NHS CA the catalogue knows",
        description=(
            "List every NHS CA the catalogue knows, in store order: its alias, name, "
            "environments, generation, role, purpose, pinned fingerprint, and whether its "
            "file is shipped (or only its fingerprint is pinned, so that a file you add is "
            "recognised)."
        ),
    )
    _add_common_options(nhs_list)
    nhs_list.add_argument(
        "--env",
        choices=[e.value for e in Environment],
        help="only the CAs of this environment",
    )
    nhs_list.add_argument("--json", action="store_true", help="print JSON instead of a table")
    nhs_list.set_defaults(handler=_nhs_list)

    # build
    build = commands.add_parser(
        "build",
        help="build an environment's trust store in several formats",
        description=(
            "Build the trust store of an NHS environment (G1 and G2 CAs by default) and write "
            "it to DIR as truststore.pem, truststore.p12 and truststore.jks (and "
            "truststore.p7b when asked). Every file is read back and checked before any is "
            "written; an existing file is not replaced without --force. Certificates that "
            "have expired are kept and named on stderr, or left out with --drop-expired."
        ),
        epilog=(
            "JKS needs a password: give one with --password-env or --password-file, or leave "
            "jks out of --formats (Java's conventional 'changeit' is never assumed). "
            "Without a password the PKCS#12 file is truly password-less (no integrity MAC), "
            "as Java 18+ reads its own cacerts."
        ),
    )
    _add_common_options(build)
    build.add_argument(
        "--env",
        required=True,
        choices=["prod", "int", "dep"],
        help="the NHS environment: prod, or the PTL environments int and dep",
    )
    build.add_argument(
        "--generations",
        type=_generations,
        default=["g1", "g2"],
        metavar="g1,g2",
        help="which NHS PKI generations to trust (default: g1,g2, the transition store)",
    )
    build.add_argument(
        "--add",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help=(
            "also trust the CA certificates in FILE (PEM, DER, PKCS#7, a directory of them, or "
            "a password-less PKCS#12); repeatable"
        ),
    )
    build.add_argument(
        "--certifi",
        action="store_true",
        help="also trust the public web roots of the certifi package (Mozilla's list)",
    )
    build.add_argument(
        "--drop-expired",
        action="store_true",
        help="leave out certificates that have expired, instead of keeping them with a warning",
    )
    build.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="DIR",
        help="the directory to write (created if missing)",
    )
    build.add_argument(
        "--formats",
        type=_formats,
        default=_formats(DEFAULT_BUILD_FORMATS),
        metavar="pem,p12,jks,p7b",
        help=f"the files to write (default: {DEFAULT_BUILD_FORMATS})",
    )
    _add_password_options(build, "the store password")
    build.add_argument("--force", action="store_true", help="replace existing files")
    build.add_argument(
        "--json",
        action="store_true",
        help="print a JSON report: per file its path, format, entry count, SHA-256s, read-back",
    )
    build.set_defaults(handler=_build)

    # convert
    convert = commands.add_parser(
        "convert",
        help="convert a certificate file between PEM, DER and PKCS#7",
        description=(
            "Convert any certificate file truststore_builder reads (PEM, DER, PKCS#7, a "
            "directory) to PEM, DER (exactly one certificate) or PKCS#7."
        ),
    )
    _add_common_options(convert)
    convert.add_argument("input", type=Path, metavar="INPUT", help="the file to read")
    convert.add_argument("output", type=Path, metavar="OUTPUT", help="the file to write")
    convert.add_argument(
        "--to",
        choices=CONVERT_FORMATS,
        help="the output format (default: from OUTPUT's suffix: .pem/.crt, .der, .p7b/.p7c)",
    )
    convert.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    convert.set_defaults(handler=_convert)

    # inspect
    inspect = commands.add_parser(
        "inspect",
        help="list the certificates in a trust store or certificate file",
        description=(
            "List the certificates in FILE (PEM, DER, PKCS#7, PKCS#12, JKS or JCEKS), one line "
            "each: alias, subject, issuer, not-after, SHA-256, the NHS name and generation "
            "where the catalogue knows the certificate, and whether it has expired."
        ),
    )
    _add_common_options(inspect)
    inspect.add_argument("file", type=Path, metavar="FILE", help="the file to read")
    _add_password_options(inspect, "the password of a PKCS#12, JKS or JCEKS store")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of a table")
    inspect.set_defaults(handler=_inspect)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("truststore-builder")
    except PackageNotFoundError:
        return "(not installed)"


# --- helpers ----------------------------------------------------------------------------------


def _say(stream: TextIO, kind: str, message: str) -> None:
    """Print ``message`` as one line: newlines inside it would break the one-line promise."""
    text = " ".join(message.splitlines())
    stream.write(f"{PROG}: {kind}: {text}\n")


def _password(args: argparse.Namespace) -> bytes | None:
    """The password the options name, as bytes, or None when none was given.

    Raises:
        UsageError: The variable is unset or empty, or the file cannot be read or is empty.
    """
    if args.password_env is not None:
        value = os.environ.get(args.password_env)
        if value is None:
            msg = f"--password-env {args.password_env}: the environment variable is not set"
            raise UsageError(msg)
        if not value:
            msg = f"--password-env {args.password_env}: the environment variable is empty"
            raise UsageError(msg)
        return os.fsencode(value)
    path: Path | None = args.password_file
    if path is not None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            msg = f"{path}: cannot read the password file ({exc.strerror})"
            raise UsageError(msg) from None
        for ending in (b"\r\n", b"\n"):
            if data.endswith(ending):
                data = data[: -len(ending)]
                break
        if not data:
            msg = f"{path}: the password file is empty"
            raise UsageError(msg)
        return data
    return None


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _dump_json(document: object) -> None:
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _nhs_fields(nhs: NhsCa | None) -> dict[str, object]:
    if nhs is None:
        return {"nhs_name": None, "nhs_generation": None, "nhs_environments": None}
    return {
        "nhs_name": nhs.name,
        "nhs_generation": nhs.generation.value,
        "nhs_environments": [e.value for e in nhs.environments],
    }


def _date(when: dt.datetime) -> str:
    return f"{when:%Y-%m-%d}"


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


# --- nhs list ---------------------------------------------------------------------------------


def _nhs_list(args: argparse.Namespace) -> int:
    from truststore_builder._sources.nhs import nhs_catalogue  # noqa: PLC0415

    cas = [ca for ca in nhs_catalogue().cas if args.env is None or args.env in ca.environments]
    if args.json:
        _dump_json(
            [
                {
                    "slug": ca.slug,
                    "name": ca.name,
                    "environments": [e.value for e in ca.environments],
                    "generation": ca.generation.value,
                    "role": ca.role,
                    "purpose": ca.purpose,
                    "sha256": ca.sha256,
                    "sha1": ca.sha1,
                    "shipped": ca.file is not None,
                }
                for ca in cas
            ]
        )
        return 0
    rows = [("alias", "name", "environments", "gen", "role", "purpose", "file", "fingerprint")]
    rows.extend(
        (
            ca.slug,
            ca.name,
            ",".join(ca.environments),
            ca.generation.value,
            ca.role,
            ca.purpose,
            "shipped" if ca.file else "pinned only",
            f"sha256:{ca.sha256}" if ca.sha256 else f"sha1:{ca.sha1}",
        )
        for ca in cas
    )
    _out(_table(rows))
    return 0


# --- build ------------------------------------------------------------------------------------


def _expiry_line(entry: TrustedEntry, at: dt.datetime, *, kept: bool) -> str:
    """One line naming a certificate that is not valid at ``at``, and what became of it."""
    known = f"{entry.nhs.name}, {entry.nhs.generation}" if entry.nhs else entry.subject
    name = f"{entry.alias} ({known})"
    if at < entry.not_before:
        state = f"is not valid until {_date(entry.not_before)}"
    else:
        state = f"expired on {_date(entry.not_after)}"
    fate = (
        "kept in the store (--drop-expired leaves it out)" if kept else "left out (--drop-expired)"
    )
    return f"{name} {state}; {fate}"


def _build_store(args: argparse.Namespace) -> TrustStore:
    from truststore_builder._builders import TrustStoreBuilder  # noqa: PLC0415

    builder = TrustStoreBuilder().add_nhs(args.env, generations=args.generations)
    for path in args.add:
        builder = builder.add_file(path)
    if args.certifi:
        builder = builder.add_certifi()
    if args.drop_expired:
        builder = builder.drop_expired()
    # The builder names all expired certificates in one warning; the command line names each
    # on its own line instead, from the store itself.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExpiredCertificateWarning)
        return builder.build()


_PASSWORDED = frozenset({StoreFormat.PKCS12, StoreFormat.JKS, StoreFormat.JCEKS})


def _read_back_from_disk(path: Path, fmt: StoreFormat, password: bytes | None) -> list[str]:
    """SHA-256s of the certificates in the file as written, read again from disk.

    Raises:
        ReadBackError: A PKCS#12 or JKS entry is not a trusted certificate entry.
    """
    from truststore_builder._sources.files import read_store  # noqa: PLC0415

    entries = read_store(path, password=password if fmt in _PASSWORDED else None)
    if fmt in _PASSWORDED and not all(entry.trusted for entry in entries):
        msg = f"{path}: an entry does not read back as a trusted certificate entry"
        raise ReadBackError(msg, source=str(path))
    return [sha256_fingerprint(entry.certificate) for entry in entries]


def _build_checks(args: argparse.Namespace, formats: Sequence[StoreFormat]) -> bytes | None:
    """Everything about the command line that can be refused before any certificate is read.

    Returns:
        The store password, or None.
    """
    password = _password(args)
    if StoreFormat.JKS in formats and password is None:
        msg = (
            "a JKS trust store needs a password and none was given: pass --password-env VAR "
            "or --password-file FILE, or leave jks out (--formats pem,p12); "
            "Java's 'changeit' is never assumed"
        )
        raise MissingPasswordError(msg)
    out: Path = args.out
    if out.exists() and not out.is_dir():
        msg = f"{out}: --out must be a directory, and this is a file"
        raise UsageError(msg)
    return password


def _write_build(
    store: TrustStore,
    out: Path,
    targets: dict[Path, StoreFormat],
    password: bytes | None,
    *,
    force: bool,
) -> list[Path]:
    """Create ``out`` if needed and write every file, or none (and no new directory)."""
    from truststore_builder._writing import write_stores  # noqa: PLC0415

    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"{out}: cannot create the output directory ({exc.strerror})"
        raise UsageError(msg) from None
    try:
        return write_stores(store, targets, password=password, overwrite=force)
    except BaseException:
        if created:
            # Leave nothing behind: the directory was ours and nothing was written into it.
            with contextlib.suppress(OSError):
                out.rmdir()
        raise


def _build(args: argparse.Namespace) -> int:
    formats = [StoreFormat(f) for f in args.formats]
    password = _build_checks(args, formats)
    store = _build_store(args)
    if not store.entries:
        msg = (
            f"no certificate is left in the {args.env} store "
            f"(generations {','.join(args.generations)}) after leaving out expired ones; "
            "nothing was written"
        )
        raise CheckError(msg)
    for entry in store.expired:
        _say(sys.stderr, "warning", _expiry_line(entry, store.validated_at, kept=True))
    for entry in store.dropped:
        _say(sys.stderr, "note", _expiry_line(entry, store.validated_at, kept=False))

    targets = {args.out / f"{STORE_STEM}.{fmt.value}": fmt for fmt in formats}
    written = _write_build(store, args.out, targets, password, force=args.force)

    expected = [entry.sha256 for entry in store.entries]
    report: list[dict[str, object]] = []
    for path in written:
        fmt = targets[path]
        found = _read_back_from_disk(path, fmt, password)
        # PKCS#7 is a SET OF certificates: its order is DER's, not ours.
        ok = sorted(found) == sorted(expected) if fmt is StoreFormat.PKCS7 else found == expected
        report.append(
            {
                "path": str(path),
                "format": fmt.value,
                "entries": len(found),
                "sha256": found,
                "read_back_ok": ok,
            }
        )
    if args.json:
        _dump_json(
            {
                "environment": args.env,
                "generations": args.generations,
                "validated_at": store.validated_at.isoformat(),
                "files": report,
                "expired": [entry.alias for entry in store.expired],
                "dropped": [entry.alias for entry in store.dropped],
            }
        )
    else:
        for item in report:
            state = "read back ok" if item["read_back_ok"] else "READ BACK DIFFERS"
            count = item["entries"]
            _out(f"wrote {item['path']} ({item['format']}, {count} certificates, {state})")
    bad = [str(item["path"]) for item in report if not item["read_back_ok"]]
    if bad:
        msg = f"{', '.join(bad)}: the file on disk does not hold what was written"
        raise ReadBackError(msg, source=bad[0])
    return 0


# --- convert ----------------------------------------------------------------------------------


def _convert(args: argparse.Namespace) -> int:
    from truststore_builder._convert import convert  # noqa: PLC0415
    from truststore_builder._writing import write_atomically  # noqa: PLC0415

    output: Path = args.output
    to = args.to or _CONVERT_SUFFIXES.get(output.suffix.lower())
    if to is None:
        msg = (
            f"{output}: cannot tell the output format from the suffix {output.suffix!r}; "
            f"pass --to {'|'.join(CONVERT_FORMATS)}"
        )
        raise UsageError(msg)
    if output.exists() and not args.force:
        msg = f"{output}: already exists; pass --force to replace it"
        raise UsageError(msg)
    data = convert(args.input, to)
    write_atomically(output, data, overwrite=args.force)
    return 0


# --- inspect ----------------------------------------------------------------------------------


def _inspect(args: argparse.Namespace) -> int:
    from truststore_builder._checks import utc_now  # noqa: PLC0415
    from truststore_builder._report import expiry_status  # noqa: PLC0415
    from truststore_builder._sources.files import read_store  # noqa: PLC0415
    from truststore_builder._sources.nhs import nhs_catalogue  # noqa: PLC0415

    password = _password(args)
    entries = read_store(args.file, password=password)
    catalogue = nhs_catalogue()
    now = utc_now()
    records = []
    for entry in entries:
        certificate = entry.certificate
        nhs = catalogue.recognise(certificate)
        not_before = certificate.not_valid_before_utc
        not_after = certificate.not_valid_after_utc
        records.append(
            {
                "alias": entry.alias,
                "subject": certificate.subject.rfc4514_string(),
                "issuer": certificate.issuer.rfc4514_string(),
                "not_before": not_before.isoformat(),
                "not_after": not_after.isoformat(),
                "sha256": sha256_fingerprint(certificate),
                **_nhs_fields(nhs),
                "trusted": entry.trusted,
                "expired": not (not_before <= now <= not_after),
                "status": expiry_status(not_before, not_after, now),
            }
        )
    if args.json:
        _dump_json({"file": str(args.file), "entries": records})
        return 0
    rows = [("alias", "subject", "issuer", "not after", "sha256", "nhs", "status")]
    rows.extend(
        (
            str(record["alias"]) or "-",
            str(record["subject"]),
            str(record["issuer"]),
            str(record["not_after"])[:10],
            str(record["sha256"]),
            f"{record['nhs_name']} ({record['nhs_generation']})" if record["nhs_name"] else "-",
            str(record["status"]),
        )
        for record in records
    )
    _out(_table(rows))
    return 0


# --- entry point ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: The arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 success, 1 a check refused, 2 a usage error or unreadable input.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    # Known before parsing, so that a parse error can show its traceback too.
    debug = "--debug" in arguments
    status = 2
    try:
        args = build_parser().parse_args(arguments)
        handler: Callable[[argparse.Namespace], int] = args.handler
        with warnings.catch_warnings():
            # The library's warnings (a file skipped in a directory, ...) as one line each.
            warnings.simplefilter("always", TruststoreBuilderWarning)
            warnings.showwarning = _show_warning
            status = handler(args)
    except SystemExit as exc:  # --help and --version
        status = exc.code if isinstance(exc.code, int) else 0
    except UsageError as exc:
        _report_error(exc, debug=debug)
    except TruststoreBuilderError as exc:
        _report_error(exc, debug=debug)
        status = exc.exit_status
    except OSError as exc:
        # A file the library did not wrap: name it, without a traceback.
        where = exc.filename if exc.filename is not None else "input"
        _report_error(InputError(f"{where}: {exc.strerror or exc}"), debug=debug, cause=exc)
    except KeyboardInterrupt:
        status = 130
    except Exception as exc:  # noqa: BLE001  (the one-line promise holds for bugs too)
        message = (
            f"internal error: {type(exc).__name__}: {exc} "
            "(please report it; run with --debug for the traceback)"
        )
        _report_error(RuntimeError(message), debug=debug, cause=exc)
    return status


def _show_warning(  # noqa: PLR0917  (the signature of warnings.showwarning)
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    if issubclass(category, TruststoreBuilderWarning):
        _say(sys.stderr, "warning", str(message))
    else:
        stream = file or sys.stderr
        stream.write(warnings.formatwarning(message, category, filename, lineno, line))


def _report_error(exc: BaseException, *, debug: bool, cause: BaseException | None = None) -> None:
    if debug:
        traceback.print_exception(cause or exc, file=sys.stderr)
    _say(sys.stderr, "error", str(exc))
