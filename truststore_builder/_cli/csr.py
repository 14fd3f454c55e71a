"""``csr``: a new key and a CN-only certificate signing request."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from truststore_builder._cli.errors import UsageError
from truststore_builder._cli.options import (
    Parser,
    add_common_options,
    add_password_options,
    store_password,
)
from truststore_builder._cli.output import out
from truststore_builder._writing import write_files

if TYPE_CHECKING:
    import argparse


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    """Add the ``csr`` subcommand to ``commands``."""
    csr = commands.add_parser(
        "csr",
        help="generate a key and a CN-only certificate signing request",
        description=(
            "Generate an RSA key and a certificate signing request whose subject is the CN "
            "alone, as NHS England asks (every other field, email included, blank). Give the "
            "CN, or let it be built from a MESH mailbox or a BaRS receiver's ODS code and "
            "organisation. The key file is written with mode 0600."
        ),
    )
    add_common_options(csr)
    name = csr.add_mutually_exclusive_group(required=True)
    name.add_argument("--cn", metavar="FQDN", help="the endpoint's fully-qualified name")
    name.add_argument(
        "--mesh",
        metavar="MAILBOX.ODS",
        help="a MESH API client: CN <mailbox>.<ods>.api.mesh-client.nhs.uk",
    )
    name.add_argument(
        "--bars",
        metavar="ODS.ORGANISATION",
        help=(
            "a BaRS receiver: CN BaRS-<ODS>.<Organisation>.nhs.uk (prod) or "
            "BaRS-INT-<ODS>.<Supplier>.thirdparty.nhs.uk (--env int)"
        ),
    )
    # No default here: --env given with --cn or --mesh is refused, not silently ignored.
    csr.add_argument("--env", choices=["prod", "int"], help="for --bars (default: prod)")
    csr.add_argument("--key-out", type=Path, required=True, metavar="FILE", help="the key file")
    csr.add_argument("--csr-out", type=Path, required=True, metavar="FILE", help="the CSR file")
    csr.add_argument(
        "--key-size", type=int, default=2048, metavar="BITS", help="RSA key size (default 2048)"
    )
    add_password_options(csr, "a password to encrypt the key file with (default: unencrypted)")
    csr.add_argument("--force", action="store_true", help="replace existing files")
    csr.set_defaults(handler=_csr)


def _csr(args: argparse.Namespace) -> int:
    from truststore_builder._csr import (  # noqa: PLC0415 - start-up time
        bars_common_name,
        check_common_name,
        generate_signing_request,
        mesh_client_common_name,
    )

    if args.env is not None and args.bars is None:
        given = "--mesh" if args.mesh is not None else "--cn"
        msg = f"--env applies only to --bars: the CN {given} gives is the same in every environment"
        raise UsageError(msg)
    try:
        if args.mesh is not None:
            mailbox, _, ods = args.mesh.partition(".")
            common_name = mesh_client_common_name(mailbox, ods)
        elif args.bars is not None:
            ods, _, organisation = args.bars.partition(".")
            common_name = bars_common_name(ods, organisation, environment=args.env or "prod")
        else:
            common_name = check_common_name(args.cn)
        request = generate_signing_request(common_name, key_size=args.key_size)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    planned = [
        (args.key_out, request.key_pem(store_password(args)), True),
        (args.csr_out, request.csr_pem(), False),
    ]
    write_files(planned, overwrite=args.force)
    out(f"wrote {args.key_out} (private key, mode 0600) and {args.csr_out} (CN={common_name})")
    return 0
