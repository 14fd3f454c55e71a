"""``build`` without ``--recipe``: the stores its options describe, checked, written, read back."""

from __future__ import annotations

import sys
import warnings
from typing import TYPE_CHECKING

from truststore_builder._builders import KeyStoreBuilder, TrustStoreBuilder
from truststore_builder._cli.errors import UsageError
from truststore_builder._cli.options import read_secret, store_password
from truststore_builder._cli.output import dump_json, iso_date, out, say
from truststore_builder._errors import (
    CheckError,
    ExpiredCertificateWarning,
    MissingPasswordError,
    ReadBackError,
)
from truststore_builder._formats.codec import DirectoryCodec
from truststore_builder._formats.registry import codec_for
from truststore_builder._model import StoreFormat, sha256_fingerprint
from truststore_builder._sources.files import read_store
from truststore_builder._stores import serialize_keystore, serialize_targets
from truststore_builder._writing import make_directories, remove_directories, write_outputs

if TYPE_CHECKING:
    import argparse
    import datetime as dt
    from collections.abc import Sequence
    from pathlib import Path

    from truststore_builder._model import TrustedEntry
    from truststore_builder._stores import KeyStore, TrustStore


#: The name every ``build`` output file takes, before its format's suffix.
STORE_STEM = "truststore"


def build_stores(args: argparse.Namespace) -> int:
    """Build, check and write the stores the options describe; every file or none.

    Returns:
        The exit status (0; a refusal is raised).
    """
    formats = [StoreFormat(f) for f in args.formats]
    password = _build_checks(args, formats)
    keystore = _build_keystore(args, password)
    store = keystore.truststore if keystore is not None else _build_store(args)
    if not store.entries:
        msg = (
            f"no certificate is left in the {args.env} store "
            f"(generations {','.join(args.generations)}) after leaving out expired ones; "
            "nothing was written"
        )
        raise CheckError(msg)
    for entry in store.expired:
        say(sys.stderr, "warning", _expiry_line(entry, store.validated_at, kept=True))
    for entry in store.dropped:
        say(sys.stderr, "note", _expiry_line(entry, store.validated_at, kept=False))

    targets = {
        args.out / ("capath" if fmt is StoreFormat.CAPATH else f"{STORE_STEM}.{fmt.value}"): fmt
        for fmt in formats
    }
    client_files = (
        _keystore_files(keystore, args, formats, password)
        if keystore is not None and password is not None
        else []
    )
    written = _write_build(store, args.out, targets, password, client_files, force=args.force)

    expected = [entry.sha256 for entry in store.entries]
    report: list[dict[str, object]] = []
    for path in written:
        fmt = targets[path]
        found = _read_back_from_disk(path, fmt, password)
        # PKCS#7 is a SET OF certificates: its order is DER's, not ours; capath's is by hash.
        unordered = fmt in {StoreFormat.PKCS7, StoreFormat.CAPATH}
        ok = sorted(found) == sorted(expected) if unordered else found == expected
        report.append(
            {
                "path": str(path),
                "format": fmt.value,
                "entries": len(found),
                "sha256": found,
                "read_back_ok": ok,
            }
        )
    client = _client_report(keystore, client_files)
    if args.json:
        dump_json(
            {
                "environment": args.env,
                "generations": args.generations,
                "client": client,
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
            out(f"wrote {item['path']} ({item['format']}, {count} certificates, {state})")
        if client is not None:
            for path in client["files"]:  # type: ignore[attr-defined]
                out(f"wrote {path} (client {client['alias']}, {client['subject']})")
    bad = [str(item["path"]) for item in report if not item["read_back_ok"]]
    if bad:
        msg = f"{', '.join(bad)}: the file on disk does not hold what was written"
        raise ReadBackError(msg, source=bad[0])
    return 0


def _expiry_line(entry: TrustedEntry, at: dt.datetime, *, kept: bool) -> str:
    """One line naming a certificate that is not valid at ``at``, and what became of it."""
    known = f"{entry.nhs.name}, {entry.nhs.generation}" if entry.nhs else entry.subject
    name = f"{entry.alias} ({known})"
    if at < entry.not_before:
        state = f"is not valid until {iso_date(entry.not_before)}"
    else:
        state = f"expired on {iso_date(entry.not_after)}"
    fate = (
        "kept in the store (--drop-expired leaves it out)" if kept else "left out (--drop-expired)"
    )
    return f"{name} {state}; {fate}"


def _trust_builder(args: argparse.Namespace) -> TrustStoreBuilder:
    """The trust store the build options describe (shared by trust and key stores)."""
    builder = TrustStoreBuilder().add_nhs(args.env, generations=args.generations)
    add_password = read_secret(args.add_password_env, args.add_password_file, "add-password")
    for path in args.add:
        builder = builder.add_file(path, password=add_password)
    if args.certifi:
        builder = builder.add_certifi()
    if args.drop_expired:
        builder = builder.drop_expired()
    if args.allow_test_pki_impostors:
        builder = builder.allow_test_pki_impostors()
    return builder


def _build_store(args: argparse.Namespace) -> TrustStore:
    # The builder names all expired certificates in one warning; the command line names each
    # on its own line instead, from the store itself.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExpiredCertificateWarning)
        return _trust_builder(args).build()


def _read_back_from_disk(path: Path, fmt: StoreFormat, password: bytes | None) -> list[str]:
    """SHA-256s of the certificates in the file as written, read again from disk.

    Raises:
        ReadBackError: A PKCS#12 or JKS entry is not a trusted certificate entry.
    """
    codec = codec_for(fmt)
    if isinstance(codec, DirectoryCodec):
        try:
            found = codec.read_back(codec.read(path), str(path)).certificates
        except ValueError as exc:
            raise ReadBackError(str(exc), source=str(path)) from None
        return [sha256_fingerprint(certificate) for certificate in found]
    entries = read_store(path, password=password if codec.takes_password else None)
    if codec.takes_password and not all(entry.trusted for entry in entries):
        msg = f"{path}: an entry does not read back as a trusted certificate entry"
        raise ReadBackError(msg, source=str(path))
    return [sha256_fingerprint(entry.certificate) for entry in entries]


def _build_checks(args: argparse.Namespace, formats: Sequence[StoreFormat]) -> bytes | None:
    """Everything about the command line that can be refused before any certificate is read.

    Returns:
        The store password, or None.
    """
    password = store_password(args)
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
    client_files: Sequence[tuple[Path, bytes, bool]],
    *,
    force: bool,
) -> list[Path]:
    """Create ``out`` if needed and write every file, or none (and no new directory).

    Returns:
        The trust store files written (the client files are written with them).
    """
    # 0700 when it will hold the client's key; 0755 otherwise; whatever the umask.
    created = make_directories(out, private=any(private for _, _, private in client_files))
    try:
        planned, directories = serialize_targets(store, targets, password)
        write_outputs([*planned, *client_files], directories, overwrite=force)
    except BaseException:
        # Leave nothing behind: the directories were ours and nothing was written into them.
        remove_directories(created)
        raise
    return list(targets)


def _build_keystore(args: argparse.Namespace, password: bytes | None) -> KeyStore | None:
    """The checked client identity, when --cert and --key were given."""
    if args.cert is None and args.key is None:
        return None
    if args.cert is None or args.key is None:
        msg = "--cert and --key go together: give both to build the client's key stores"
        raise UsageError(msg)
    if password is None:
        msg = (
            "a key store needs a password and none was given (without one Java reads the key "
            "entry as an empty store): pass --password-env VAR or --password-file FILE"
        )
        raise MissingPasswordError(msg)
    builder = (
        KeyStoreBuilder()
        .with_truststore(_trust_builder(args))
        .with_identity(
            args.cert,
            args.key,
            key_password=read_secret(args.key_password_env, args.key_password_file, "key-password"),
            chain=args.chain,
            alias=args.alias,
        )
        .allow_g1(args.allow_g1)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExpiredCertificateWarning)
        return builder.build()


def _keystore_files(
    keystore: KeyStore, args: argparse.Namespace, formats: Sequence[StoreFormat], password: bytes
) -> list[tuple[Path, bytes, bool]]:
    """Serialise (and read back) every client file the formats call for; nothing is written."""
    jks_key_password = read_secret(
        args.jks_key_password_env, args.jks_key_password_file, "jks-key-password"
    )
    planned: list[tuple[Path, bytes, bool]] = []
    for fmt in formats:
        if fmt is StoreFormat.PEM:
            key_pem = keystore.key_pem(password if args.encrypt_key_pem else None)
            planned += [
                (args.out / "client-chain.pem", keystore.chain_pem(), False),
                (args.out / "client-key.pem", key_pem, True),
            ]
        elif fmt in (StoreFormat.PKCS12, StoreFormat.JKS):
            data = serialize_keystore(
                keystore,
                fmt,
                password,
                key_password=jks_key_password if fmt is StoreFormat.JKS else None,
                profile=args.p12_profile,
            )
            planned.append((args.out / f"keystore.{fmt.value}", data, True))
    return planned


def _client_report(
    keystore: KeyStore | None, client_files: Sequence[tuple[Path, bytes, bool]]
) -> dict[str, object] | None:
    if keystore is None:
        return None
    report = keystore.report
    return {
        "alias": keystore.alias,
        "subject": report.subject,
        "issuer": keystore.identity.certificate.issuer.rfc4514_string(),
        "generation": report.generation.value if report.generation else None,
        "not_after": keystore.identity.certificate.not_valid_after_utc.isoformat(),
        "chain": [c.subject.rfc4514_string() for c in keystore.chain],
        "files": [str(path) for path, _, _ in client_files],
    }
