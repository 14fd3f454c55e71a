"""``verify``: does a client certificate chain to an environment or a trust store?"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from truststore_builder._cli.errors import UsageError, password_options
from truststore_builder._cli.options import (
    Parser,
    add_at_option,
    add_catalogue_option,
    add_common_options,
    add_password_options,
    chosen_catalogue,
    read_secret,
    store_password,
)
from truststore_builder._cli.output import dump_json, nhs_fields, out
from truststore_builder._model import Environment, sha256_fingerprint
from truststore_builder._verify import verify_certificate

if TYPE_CHECKING:
    import argparse


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    """Add the ``verify`` subcommand to ``commands``."""
    verify = commands.add_parser(
        "verify",
        help="check that a client certificate chains to an environment or a trust store",
        description=(
            "Check a client certificate (and optionally its key) against every rule the "
            "library applies before packaging it: key match, key strength, validity at a "
            "time, clientAuth, a chain to a trusted root under the NHS chain policy, and the "
            "environment. Prints the chain found, the generation and expiry, and every "
            "failed rule."
        ),
        epilog="Exit status: 0 it verifies, 1 it does not, 2 unreadable input or usage.",
    )
    add_common_options(verify)
    verify.add_argument("cert", type=Path, metavar="CERT", help="the certificate (or chain) file")
    target = verify.add_argument_group("what to verify against (one or both)")
    target.add_argument("--env", choices=[e.value for e in Environment], help="an NHS environment")
    target.add_argument("--trust", type=Path, metavar="FILE", help="a trust store or CA file")
    add_password_options(verify, "the --trust store's password")
    verify.add_argument("--key", type=Path, metavar="FILE", help="check this private key matches")
    add_password_options(verify, "the --key file's password", option="key-password")
    add_at_option(verify, "the validation time")
    add_catalogue_option(verify)
    verify.add_argument("--json", action="store_true", help="print a JSON report")
    verify.set_defaults(handler=_verify)


def _verify(args: argparse.Namespace) -> int:
    catalogue = chosen_catalogue(args)
    if args.env is None and args.trust is None:
        msg = "give --env ENV or --trust FILE (or both) to verify against"
        raise UsageError(msg)
    trust_password = store_password(args)
    key_password = read_secret(args.key_password_env, args.key_password_file, "key-password")
    with password_options({"password": [args.trust], "key-password": [args.key]}):
        report = verify_certificate(
            args.cert,
            environment=args.env,
            trust=args.trust,
            trust_password=trust_password,
            key=args.key,
            key_password=key_password,
            at=args.at,
            catalogue=catalogue,
        )
    chain = []
    for certificate in report.chain:
        nhs = catalogue.recognise(certificate)
        lookalike = None if nhs else catalogue.claimed_by(certificate.subject)
        chain.append(
            {
                "subject": certificate.subject.rfc4514_string(),
                "not_after": certificate.not_valid_after_utc.isoformat(),
                "sha256": sha256_fingerprint(certificate),
                **nhs_fields(nhs),
                "lookalike_of": lookalike.name if lookalike else None,
            }
        )
    failures = [
        {"rule": getattr(f, "rule", "identity"), "message": str(f)} for f in report.failures
    ]
    leaf = report.certificate
    if args.json:
        dump_json(
            {
                "certificate": str(args.cert),
                "subject": report.subject,
                "verified": report.ok,
                "validated_at": report.validated_at.isoformat(),
                "generation": report.generation.value if report.generation else None,
                "issuer": report.issuer_nhs.name if report.issuer_nhs else None,
                "not_after": leaf.not_valid_after_utc.isoformat(),
                "chain": chain,
                "failures": failures,
            }
        )
    else:
        state = "verifies" if report.ok else "DOES NOT VERIFY"
        generation = report.generation.value if report.generation else "not NHS"
        out(f"{args.cert}: {report.subject} {state} ({generation})")
        out(f"  expires {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
        for i, link in enumerate(chain):
            known = f"  [{link['nhs_name']}, {link['nhs_generation']}]" if link["nhs_name"] else ""
            if link["lookalike_of"]:
                known = f"  [NOT the pinned {link['lookalike_of']}: sha256 {link['sha256']}]"
            out(f"  chain[{i}] {link['subject']}{known}")
        for failure in failures:
            out(f"  FAILED {failure['rule']}: {failure['message']}")
    return 0 if report.ok else 1
