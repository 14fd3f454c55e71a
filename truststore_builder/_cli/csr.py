"""``csr``: a CN-only certificate signing request, for a new key or the one in service."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from truststore_builder._cli.errors import UsageError, password_options
from truststore_builder._cli.options import (
    Parser,
    add_common_options,
    add_password_options,
    read_secret,
    store_password,
)
from truststore_builder._cli.output import out_line
from truststore_builder._csr import (
    bars_common_name,
    check_common_name,
    generate_signing_request,
    mesh_client_common_name,
    signing_request_from_key_file,
    signing_request_from_store,
)
from truststore_builder._writing import write_files

if TYPE_CHECKING:
    import argparse

    from truststore_builder._csr import SigningRequest


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    """Add the ``csr`` subcommand to ``commands``."""
    csr = commands.add_parser(
        "csr",
        help="a CN-only certificate signing request, for a new key or the one in service",
        description=(
            "Write a certificate signing request whose subject is the CN alone, as NHS "
            "England asks (every other field, email included, blank). The key is a new RSA "
            "key (written with mode 0600 to --key-out), or, to renew in place, the key "
            "already in service: a key file (--key) or a key store's key entry (--from-store, "
            "keytool -certreq's job), which is read and never written. Give the CN, or let it "
            "be built from a MESH mailbox or a BaRS receiver's ODS code and name; renewing "
            "from a store, the current certificate's CN is the default."
        ),
        epilog=(
            "BaRS names (--bars ODS.NAME, --bars-naming): supplier (the default) "
            "BaRS-PROD-<ODS>.<Supplier>.thirdparty.nhs.uk, and with --env int "
            "BaRS-INT-<ODS>.<Supplier>.thirdparty.nhs.uk; provider "
            "BaRS-PROD-<ODS>.<Provider>.nhs.uk; these are the naming in force. older: "
            "BaRS-<ODS>.<Organisation>.nhs.uk, the BaRS seed guide's older prod form."
        ),
    )
    add_common_options(csr)
    name = csr.add_mutually_exclusive_group()
    name.add_argument("--cn", metavar="FQDN", help="the endpoint's fully-qualified name")
    name.add_argument(
        "--mesh",
        metavar="MAILBOX.ODS",
        help="a MESH API client: CN <mailbox>.<ods>.api.mesh-client.nhs.uk",
    )
    name.add_argument(
        "--bars",
        metavar="ODS.NAME",
        help=(
            "a BaRS receiver: CN BaRS-PROD-<ODS>.<NAME>.thirdparty.nhs.uk by default (see "
            "--bars-naming and --env)"
        ),
    )
    csr.add_argument(
        "--bars-naming",
        choices=["supplier", "provider", "older"],
        help=(
            "for --bars: supplier-hosted (the default) or provider-hosted receiver, the naming "
            "in force; or older, the seed guide's BaRS-<ODS>.<Organisation>.nhs.uk"
        ),
    )
    # No default here: --env given with --cn or --mesh is refused, not silently ignored.
    csr.add_argument("--env", choices=["prod", "int"], help="for --bars (default: prod)")
    key = csr.add_mutually_exclusive_group(required=True)
    key.add_argument(
        "--key-out", type=Path, metavar="FILE", help="generate a new key and write it to FILE"
    )
    key.add_argument(
        "--key",
        type=Path,
        metavar="FILE",
        help="renew with the key in FILE (PEM or DER; encrypted: --key-password-env/-file)",
    )
    key.add_argument(
        "--from-store",
        type=Path,
        metavar="STORE",
        help=(
            "renew with the key entry of a PKCS#12, JKS or JCEKS key store (its password: "
            "--password-env/-file; the key's, where it differs: --key-password-env/-file)"
        ),
    )
    csr.add_argument(
        "--alias",
        metavar="ALIAS",
        help="with --from-store: the key entry (needed when the store holds more than one)",
    )
    csr.add_argument("--csr-out", type=Path, required=True, metavar="FILE", help="the CSR file")
    csr.add_argument(
        "--key-size",
        type=int,
        default=None,
        metavar="BITS",
        help="with --key-out: the new RSA key's size (default 2048)",
    )
    add_password_options(
        csr,
        "the new key file's password (with --key-out; default: unencrypted) or the store's "
        "(with --from-store)",
    )
    add_password_options(
        csr, "the password of the --key file, or of the store's key entry", option="key-password"
    )
    csr.add_argument("--force", action="store_true", help="replace existing files")
    csr.set_defaults(handler=_csr)


def _common_name(args: argparse.Namespace) -> str | None:
    """The CN the name options give, or None when none was given."""
    if args.env is not None and args.bars is None:
        given = "--mesh" if args.mesh is not None else "--cn"
        msg = f"--env applies only to --bars: the CN {given} gives is the same in every environment"
        raise UsageError(msg)
    if args.bars_naming is not None and args.bars is None:
        msg = "--bars-naming applies only to --bars"
        raise UsageError(msg)
    if args.mesh is not None:
        mailbox, _, ods = args.mesh.partition(".")
        return mesh_client_common_name(mailbox, ods)
    if args.bars is not None:
        ods, _, name = args.bars.partition(".")
        return bars_common_name(
            ods, name, environment=args.env or "prod", naming=args.bars_naming or "supplier"
        )
    if args.cn is not None:
        return check_common_name(args.cn)
    return None


def _refuse_misplaced(args: argparse.Namespace) -> None:
    """Options that belong to another way of getting the key are refused, not ignored."""
    misplaced = []
    if args.alias is not None and args.from_store is None:
        misplaced.append("--alias (only with --from-store)")
    if args.key_size is not None and args.key_out is None:
        misplaced.append("--key-size (only with --key-out: a reused key keeps its size)")
    if args.key is not None and (args.password_env or args.password_file):
        misplaced.append(
            "--password-env/-file (with --key, its password is --key-password-env/-file)"
        )
    if args.key_out is not None and (args.key_password_env or args.key_password_file):
        misplaced.append(
            "--key-password-env/-file (a new key is encrypted with --password-env/-file)"
        )
    if misplaced:
        msg = f"not for this way of getting the key: {'; '.join(misplaced)}"
        raise UsageError(msg)


def _request(args: argparse.Namespace, common_name: str | None) -> SigningRequest:
    key_password = read_secret(args.key_password_env, args.key_password_file, "key-password")
    if args.from_store is not None:
        password = store_password(args)
        if password is None:
            msg = "--from-store needs the store's password: --password-env VAR or --password-file FILE"
            raise UsageError(msg)
        return signing_request_from_store(
            args.from_store,
            password=password,
            alias=args.alias,
            key_password=key_password,
            common_name=common_name,
        )
    if common_name is None:
        msg = "give the CN to ask for: --cn, --mesh or --bars (only --from-store has a default)"
        raise UsageError(msg)
    if args.key is not None:
        return signing_request_from_key_file(args.key, common_name, password=key_password)
    return generate_signing_request(common_name, key_size=args.key_size or 2048)


def _csr(args: argparse.Namespace) -> int:

    _refuse_misplaced(args)
    try:
        with password_options({"key-password": [args.key]}):
            request = _request(args, _common_name(args))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.key_out is not None:
        planned = [
            (args.key_out, request.key_pem(store_password(args)), True),
            (args.csr_out, request.csr_pem(), False),
        ]
        write_files(planned, overwrite=args.force)
        out_line(
            f"wrote {args.key_out} (new private key, mode 0600) and {args.csr_out} "
            f"(CN={request.common_name})"
        )
        return 0
    write_files([(args.csr_out, request.csr_pem(), False)], overwrite=args.force)
    reused = args.key if args.key is not None else args.from_store
    out_line(f"wrote {args.csr_out} (CN={request.common_name}, the key in {reused}, unchanged)")
    return 0
