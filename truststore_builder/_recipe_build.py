"""Building a recipe: read passwords and certificates, serialise and read back, stage, publish.

Batch rows run in worker processes; nothing is written until every file is serialised.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import functools
import hashlib
import os
import re
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, cast

import attrs

from truststore_builder import _checks
from truststore_builder._builders import KeyStoreBuilder, TrustStoreBuilder
from truststore_builder._chains import BundleOrder, ordered
from truststore_builder._errors import (
    ALLOW_G1_REMEDY,
    ALLOW_IMPOSTORS_REMEDY,
    ALLOW_LEAF_REMEDY,
    OVERWRITE_REMEDY,
    BatchError,
    CheckError,
    ExpiredCertificateWarning,
    G1IdentityWarning,
    NonAlphanumericPasswordWarning,
    OutputExistsError,
    RecipeError,
    TruststoreBuilderError,
)
from truststore_builder._existing import compare_existing, compare_existing_directory
from truststore_builder._model import (
    CLIENT_PRESETS,
    StoreFormat,
)
from truststore_builder._processes import available_cpus
from truststore_builder._recipe_checks import _check_recipe, _row_key
from truststore_builder._recipe_parts import (
    _KEYSTORE_FORMATS,
    _TRUST_FORMATS,
    BatchRow,
    BuildResult,
    PasswordRef,
    RecipePreset,
    RecipeTarget,
    RecipeTrust,
    TargetFormat,
    WrittenFile,
    _context,
    _fail,
)
from truststore_builder._sources.files import read_named_password
from truststore_builder._sources.nhs import load_nhs_catalogue
from truststore_builder._stores import (
    KeyStore,
    TrustStore,
    serialize_capath,
    serialize_keystore,
    serialize_store,
)
from truststore_builder._writing import (
    StagedFiles,
    check_destinations,
    make_directories,
    remove_directories,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from truststore_builder._model import TrustedEntry
    from truststore_builder._recipe import Recipe


# --- building ---------------------------------------------------------------------------------


class _Passwords:
    """The passwords a build reads: each reference once, however many keys name it."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._read: dict[PasswordRef, bytes] = {}

    def __repr__(self) -> str:
        return f"<_Passwords: {len(self._read)} read (not shown)>"

    def get(self, key_stem: str, ref: PasswordRef | None) -> bytes | None:
        """The password ``ref`` names (None for None); errors name ``key_stem``'s key."""
        if ref is None:
            return None
        if ref not in self._read:
            self._read[ref] = _read_password(self._source, key_stem, ref)
        return self._read[ref]


def _read_password(source: str, key_stem: str, ref: PasswordRef) -> bytes:
    """The password a reference names; the error names the key, never the value.

    Nor the variable's name or the file's path: a password written where either belongs must
    not be printed back.
    """

    def refuse(kind: str, problem: str) -> NoReturn:
        _fail(source, f"{key_stem}_{kind}", problem)

    password = read_named_password(ref.env, ref.file, refuse)
    assert password is not None  # PasswordRef names one of the two
    return password


@attrs.frozen
class _Output:
    """A target made concrete: its final path and its passwords (never shown)."""

    target: RecipeTarget
    key_path: str
    path: Path
    password: bytes | None = attrs.field(repr=False)
    key_password: bytes | None = attrs.field(repr=False)


@attrs.frozen
class _Planned:
    """A serialised file (or capath directory: file name to bytes) waiting to be written."""

    path: Path
    data: bytes | Mapping[str, bytes] = attrs.field(repr=False)
    file: WrittenFile
    #: What reads the file back to compare it with one already there (see _existing).
    store_format: StoreFormat | None = None
    password: bytes | None = attrs.field(default=None, repr=False)
    key_password: bytes | None = attrs.field(default=None, repr=False)


def _resolve_outputs(
    passwords: _Passwords, prefix: str, targets: Sequence[RecipeTarget], name: str | None
) -> tuple[_Output, ...]:
    outputs = []
    for i, target in enumerate(targets):
        key_path = f"{prefix}[{i}]"
        password = passwords.get(f"{key_path}.password", target.password)
        key_password = passwords.get(f"{key_path}.key_password", target.key_password)
        path = Path(str(target.path).format(name=name)) if name is not None else target.path
        outputs.append(_Output(target, key_path, path, password, key_password))
    return tuple(outputs)


def _preset_outputs(
    passwords: _Passwords, presets: Sequence[RecipePreset], source: str
) -> tuple[_Output, ...]:
    """Every preset's files, its password checked against the client's rules (never shown)."""
    outputs: list[_Output] = []
    for i, preset in enumerate(presets):
        key_path = f"presets[{i}]"
        # The preset's password first: an error names the preset's key, not a file's.
        password = passwords.get(f"{key_path}.password", preset.password)
        found = _resolve_outputs(passwords, f"{key_path}.files", preset.targets(), None)
        if (
            CLIENT_PRESETS[preset.name].alphanumeric_password
            and password is not None
            and not _ALPHANUMERIC.fullmatch(password)
        ):
            where = _context(source, key_path)
            msg = (
                f"{where}{': ' if where else ''}the {preset.name} password holds characters other than ASCII "
                "letters and digits (not shown); meshclient.cfg keeps it, and NHS England "
                "advises letters and digits only (a '£' breaks a file not saved as UTF-8)"
            )
            warnings.warn(msg, NonAlphanumericPasswordWarning, stacklevel=4)
        outputs += found
    return tuple(outputs)


_ALPHANUMERIC = re.compile(rb"[A-Za-z0-9]+")


@functools.lru_cache(maxsize=4)
def _trust_builder(trust: RecipeTrust, add_password: bytes | None) -> TrustStoreBuilder:
    """The trust builder a recipe's [trust] describes (cached: each batch worker reads it once).

    ``add_password`` is the one ``trust.add_password`` names, already read.
    """
    builder = TrustStoreBuilder()
    if trust.catalogue is not None:
        builder = builder.with_catalogue(load_nhs_catalogue(trust.catalogue))
    builder = builder.allow_leaf(trust.allow_leaf).allow_test_pki_impostors(
        trust.allow_test_pki_impostors
    )
    for environment in trust.environments:
        builder = builder.add_nhs(environment, trust.generations)
    for path in trust.add:
        builder = builder.add_file(path, password=add_password)
    if trust.certifi:
        builder = builder.add_certifi()
    if trust.drop_expired:
        builder = builder.drop_expired()
    return builder


#: Remedies a recipe words in its own keys (overwrite stays: build(overwrite=True), --force).
_RECIPE_REMEDIES = {
    ALLOW_G1_REMEDY: "set allow_g1 = true in the recipe to package it anyway (it then warns)",
    ALLOW_LEAF_REMEDY: "add its issuer instead, or set allow_leaf = true in [trust]",
    ALLOW_IMPOSTORS_REMEDY: (
        "a test PKI that imitates NHS names must be allowed explicitly: set "
        "allow_test_pki_impostors = true in [trust]"
    ),
}


def _in_context(exc: TruststoreBuilderError, where: str) -> TruststoreBuilderError:
    """The same error type, its message prefixed with where in the recipe it happened.

    Without ``where`` (a recipe without source) the error is the library's own, as it was.
    """
    if isinstance(exc, RecipeError) or not where:
        return exc
    # A remedy in Python's terms becomes the recipe's key where the recipe has one.
    remedy = _RECIPE_REMEDIES.get(exc.remedy, exc.remedy) if exc.remedy else None
    # A copy of the same type with its own fields (NhsImpostorError's nhs_name, ...), made
    # without its constructor, whose signature a subclass may change; then message and remedy.
    again = type(exc).__new__(type(exc))
    again.__dict__.update(exc.__dict__)
    TruststoreBuilderError.__init__(
        again, f"{where}: {exc.problem}", source=exc.source, remedy=remedy
    )
    again.__cause__ = exc
    return again


@attrs.frozen
class _OldStore:
    """An existing key store an identity is taken from, and its password (never shown)."""

    path: Path
    password: bytes = attrs.field(repr=False)


def _keystore(
    trust: TrustStoreBuilder,
    *,
    cert: Path | None,
    key: Path | None,
    key_password: bytes | None,
    chain: Path | None,
    alias: str | None,
    allow_g1: bool,
    at: dt.datetime,
    old_store: _OldStore | None = None,
) -> KeyStore:

    builder = KeyStoreBuilder().with_trust_store(trust)
    if old_store is not None:
        builder = builder.with_identity_from_store(
            old_store.path,
            password=old_store.password,
            alias=alias,
            key_password=key_password,
            certificate=cert,
            chain=chain,
        )
    else:
        assert cert is not None  # RecipeIdentity and BatchRow: a key file comes with its cert
        assert key is not None
        builder = builder.with_identity(
            cert, key, key_password=key_password, chain=chain, alias=alias
        )
    builder = builder.allow_g1(allow_g1).at(at)
    with warnings.catch_warnings():
        # The shared trust store already said which CAs have expired, once.
        warnings.simplefilter("ignore", ExpiredCertificateWarning)
        return builder.build()


def _serialize(
    output: _Output, store: TrustStore, keystore: KeyStore | None, row: str | None
) -> list[_Planned]:
    """Serialise one target (reading it back): its file, or its output's files; none written."""
    target = output.target
    fmt = target.format
    if fmt.deployment is not None:
        return _serialize_deployment(output, store, keystore)
    certificates: Sequence[TrustedEntry] = ()
    data: bytes | Mapping[str, bytes]
    if fmt is TargetFormat.PEM and target.order is not None:
        from truststore_builder._deployment import bundle_pem  # noqa: PLC0415 - start-up time: deployment only

        data = bundle_pem(store, target.order)
        description = f"trust store, {len(store)} CAs, {target.order}"
        certificates = ordered(store.entries, target.order)
    elif fmt is TargetFormat.CAPATH:
        data = serialize_capath(store)
        description = f"trust store, {len(store)} CAs, OpenSSL's hashed directory"
        certificates = store.entries
    elif not fmt.needs_identity:
        data = serialize_store(store, _TRUST_FORMATS[fmt], output.password)
        description = f"trust store, {len(store)} CAs"
        certificates = store.entries
    else:
        assert keystore is not None  # _check_recipe: identity targets have one
        if fmt.is_keystore:
            if target.alias is not None:
                keystore = _with_alias(keystore, target.alias, output.key_path)
            data = serialize_keystore(
                keystore,
                _KEYSTORE_FORMATS[fmt],
                output.password,
                key_password=output.key_password,
                profile=target.profile or "modern",
                include_trusted=target.include_trusted is not False,
            )
            certificates = (
                keystore.trust_store.entries if target.include_trusted is not False else ()
            )
            description = (
                f"key store {keystore.alias}, {len(keystore.chain)} in chain, "
                f"{len(certificates)} CAs"
            )
        elif fmt is TargetFormat.CLIENT_CHAIN_PEM:
            data = keystore.chain_pem()
            description = f"client chain of {keystore.alias}, leaf first"
        else:
            data = keystore.key_pem(output.password)
            encrypted = "encrypted" if output.password else "unencrypted"
            description = f"client key of {keystore.alias}, {encrypted}"
    file = WrittenFile(
        path=output.path,
        format=fmt,
        target=output.key_path,
        row=row,
        description=description,
        sha256=_sha256(data),
        private=fmt.private,
        certificates=tuple(entry.sha256 for entry in certificates),
    )
    store_format = _TRUST_FORMATS.get(fmt) or _KEYSTORE_FORMATS.get(fmt)
    return [_Planned(output.path, data, file, store_format, output.password, output.key_password)]


def _serialize_deployment(
    output: _Output, store: TrustStore, keystore: KeyStore | None
) -> list[_Planned]:
    """A deployment output's files under the target's directory, each read back already."""
    from truststore_builder import _deployment as deployment  # noqa: PLC0415 - start-up time: deployment only
    from truststore_builder._formats import envfile  # noqa: PLC0415 - start-up time: deployment only

    target = output.target
    fmt = target.format
    order = target.order or BundleOrder.ROOT_FIRST
    files: deployment.DeploymentFiles
    if fmt is TargetFormat.K8S_TLS_SECRET:
        assert keystore is not None  # _check_recipe: identity targets have one
        files = deployment.kubernetes_tls_secret(
            keystore, name=cast("str", target.name), namespace=target.namespace, order=order
        )
    elif fmt is TargetFormat.K8S_TRUST_BUNDLE:
        files = deployment.kubernetes_trust_bundle(
            store,
            name=cast("str", target.name),
            namespace=target.namespace,
            key=target.pem_key or "trust-bundle.pem",
            jks_key=target.jks_key,
            pkcs12_key=target.pkcs12_key,
            password=output.password,
            order=order,
        )
    elif fmt is TargetFormat.ENV:
        assert keystore is not None
        files = deployment.environment_files(
            keystore,
            stem=target.stem or "mhs",
            cert_variable=target.cert_variable or envfile.MHS_CERT_VARIABLE,
            key_variable=target.key_variable or envfile.MHS_KEY_VARIABLE,
            ca_variable=target.ca_variable or envfile.MHS_CA_VARIABLE,
            client_chain=bool(target.client_chain),
            order=target.order or BundleOrder.ISSUER_FIRST,
        )
    elif fmt is TargetFormat.CHAINS:
        files = deployment.chain_files(store, prefix=target.prefix or "chain-")
    elif fmt is TargetFormat.WINDOWS_CA:
        files = deployment.windows_ca_files(store, encoding=target.encoding or "der")
    else:
        assert keystore is not None
        assert output.password is not None  # _check_recipe: a pfx needs one
        files = deployment.windows_pfx(
            keystore,
            output.password,
            profile=target.profile or "legacy",
            include_trusted=bool(target.include_trusted),
        )
    planned = []
    for path, data, private in files.planned(output.path):
        name = path.relative_to(output.path).as_posix()
        file = WrittenFile(
            path=path,
            format=fmt,
            target=output.key_path,
            row=None,
            description=files.descriptions.get(name, str(fmt)),
            sha256=_sha256(data),
            private=private,
            certificates=files.certificates.get(name, ()),
        )
        # A PFX draws fresh salts at every build: compared by what it holds, as a key store.
        pfx = fmt is TargetFormat.PFX
        planned.append(
            _Planned(
                path,
                data,
                file,
                StoreFormat.PKCS12 if pfx else None,
                output.password if pfx else None,
            )
        )
    return planned


def _sha256(data: bytes | Mapping[str, bytes]) -> str:
    """SHA-256 of a file's bytes, or of a directory's file names and bytes in name order."""
    if isinstance(data, bytes):
        return hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256()
    for name in sorted(data):
        digest.update(name.encode() + b"\0" + data[name])
    return digest.hexdigest()


def _with_alias(keystore: KeyStore, alias: str, key_path: str) -> KeyStore:
    alias = alias.lower()
    if alias in {entry.alias for entry in keystore.trust_store}:
        msg = f"{key_path}.alias: {alias!r} is already a trusted CA's alias in the store"
        raise CheckError(msg)
    return attrs.evolve(keystore, identity=attrs.evolve(keystore.identity, alias=alias))


# --- batch rows, in worker processes ----------------------------------------------------------


@attrs.frozen
class _RowJob:
    """Everything one batch row needs, picklable: references and already-read passwords."""

    trust: RecipeTrust
    row: BatchRow
    outputs: tuple[_Output, ...]
    allow_g1: bool
    at: dt.datetime
    key_password: bytes | None = attrs.field(repr=False)
    add_password: bytes | None = attrs.field(repr=False)


@attrs.frozen
class _RowOutcome:
    """A row's serialised files, or its error, and the warnings it raised."""

    name: str
    planned: tuple[_Planned, ...] = ()
    #: type, problem, source, remedy: an exception with keyword-only fields may not unpickle.
    error: tuple[type[TruststoreBuilderError], str, str | None, str | None] | None = None
    warned: tuple[tuple[type[Warning], str], ...] = ()


def _run_row(job: _RowJob) -> _RowOutcome:
    """Check one row's identity and serialise its targets (in a worker process)."""
    row = job.row
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            keystore = _keystore(
                _trust_builder(job.trust, job.add_password),
                cert=row.cert,
                key=row.key,
                key_password=job.key_password,
                chain=row.chain,
                alias=row.alias,
                allow_g1=job.allow_g1,
                at=job.at,
            )
            planned = []
            for output in job.outputs:
                try:
                    planned += _serialize(output, keystore.trust_store, keystore, row.name)
                except TruststoreBuilderError as exc:
                    raise _in_context(exc, output.key_path) from None
        except TruststoreBuilderError as exc:
            # Sent back as parts: an exception with keyword-only fields may not unpickle.
            error = (type(exc), exc.problem, exc.source, exc.remedy)
            return _RowOutcome(row.name, error=error)
    warned = tuple(
        (w.category, str(w.message)) for w in caught if issubclass(w.category, G1IdentityWarning)
    )
    return _RowOutcome(row.name, planned=tuple(planned), warned=warned)


def _run_batch(
    jobs: Sequence[_RowJob],
    workers: int,
    progress: Callable[[int, int], None] | None,
    ready: Callable[[Sequence[_Planned]], None],
) -> list[_RowOutcome]:
    """Run every row; ``ready`` gets each good row's files as soon as the row is done."""
    total = len(jobs)
    if progress:
        progress(0, total)
    results: dict[int, _RowOutcome] = {}

    def done(index: int, outcome: _RowOutcome) -> None:
        results[index] = outcome
        if outcome.error is None:
            ready(outcome.planned)
        if progress:
            progress(len(results), total)

    if workers <= 1:
        for index, job in enumerate(jobs):
            done(index, _run_row(job))
        return [results[i] for i in range(total)]
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers)
    try:
        futures = {pool.submit(_run_row, job): i for i, job in enumerate(jobs)}
        for future in concurrent.futures.as_completed(futures):
            done(futures[future], future.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [results[i] for i in range(total)]


# --- the whole build --------------------------------------------------------------------------


def _build(
    recipe: Recipe,
    *,
    overwrite: bool,
    progress: Callable[[int, int], None] | None,
    workers: int | None,
    at: dt.datetime | None,
) -> BuildResult:

    started = time.perf_counter()
    source = recipe.source
    _check_recipe(recipe)
    when = _validation_time(at)

    # 1. Every password (each read once) and every destination, before any certificate is read.
    passwords = _Passwords(source)
    add_password = passwords.get("trust.add_password", recipe.trust.add_password)
    outputs = _resolve_outputs(passwords, "targets", recipe.targets, None)
    outputs += _preset_outputs(passwords, recipe.presets, source)
    jobs = _batch_jobs(recipe, when, passwords, add_password)
    every_output = [*outputs, *(o for job in jobs for o in job.outputs)]
    # Existing files are compared with what the build makes once it is made (step 3): one
    # that holds the same is left alone even without overwrite; another is refused then.
    _check_destinations(source, every_output, overwrite=True)

    # 2. The trust store and the identity: every check.
    store, keystore = _shared_stores(recipe, add_password, when, passwords)

    # 3. Serialise (and read back) every file, the batch's in worker processes. Each file is
    # staged (written to a hidden temporary, fsynced) as soon as it is ready, while the
    # workers go on; 4. all are given their names at the end, or none.

    used = max(1, min(workers or available_cpus(), len(jobs)))
    planned: list[_Planned] = []
    unchanged: dict[Path, str] = {}
    with (
        _new_directories(every_output) as directories,
        StagedFiles(overwrite=overwrite) as staged,
    ):
        stage = functools.partial(
            _stage, staged, directories, source=source, overwrite=overwrite, unchanged=unchanged
        )
        for output in outputs:
            try:
                planned += _serialize(output, store, keystore, None)
            except TruststoreBuilderError as exc:
                raise _in_context(exc, _context(source, output.key_path)) from None
        stage(planned)
        if jobs:
            outcomes = _run_batch(jobs, used, progress, stage)
            planned += _batch_files(source, outcomes)
        _check_planned_paths(source, planned)
        staged.publish()
    return BuildResult(
        files=tuple(
            attrs.evolve(p.file, unchanged=True, sha256=unchanged[p.path])
            if p.path in unchanged
            else p.file
            for p in planned
        ),
        rows=len(jobs),
        workers=used if jobs else 0,
        seconds=time.perf_counter() - started,
        validated_at=when,
        trust_store=store,
        keystore=keystore,
    )


def _validation_time(at: dt.datetime | None) -> dt.datetime:
    """``at``, or now; a naive time is refused.

    Raises:
        ValueError: ``at`` has no time zone.
    """
    if at is not None and at.tzinfo is None:
        msg = "the validation time must be timezone-aware (e.g. datetime.now(UTC))"
        raise ValueError(msg)
    return at or _checks.utc_now()


def _stage(
    staged: StagedFiles,
    directories: _NewDirectories,
    files: Sequence[_Planned],
    *,
    source: str,
    overwrite: bool,
    unchanged: dict[Path, str],
) -> None:
    """Stage each serialised file (or capath directory) as soon as it is ready.

    A deployment output's subdirectories (``Root/``, ``CA/``) are made here, once its files
    are known; they go again, with the others, if the build fails. One already there that
    holds the same is not staged: ``unchanged`` gets its path and the SHA-256 of what is on
    disk. One that holds something else is refused without ``overwrite``.

    Raises:
        OutputExistsError: A destination holds something else and ``overwrite`` is false.
    """
    for file in files:
        directories.make(file.path.parent, private=file.file.private)
        if isinstance(file.data, bytes):
            existing = compare_existing(
                file.path,
                file.data,
                private=file.file.private,
                store_format=file.store_format,
                password=file.password,
                key_password=file.key_password,
                key_pem=file.file.format is TargetFormat.CLIENT_KEY_PEM,
            )
        else:
            existing = compare_existing_directory(file.path, file.data)
        if existing is not None and existing.same:
            unchanged[file.path] = existing.sha256
            continue
        if existing is not None and not overwrite:
            error = OutputExistsError(
                f"{file.path}: already exists and is not what this build makes ({existing.reason})",
                source=str(file.path),
                remedy=OVERWRITE_REMEDY,
            )
            raise _in_context(error, _context(source, f"{file.file.target}.path"))
        if isinstance(file.data, bytes):
            staged.stage(file.path, file.data, private=file.file.private)
        else:
            staged.stage_directory(file.path, file.data)


def _batch_jobs(
    recipe: Recipe, when: dt.datetime, passwords: _Passwords, add_password: bytes | None
) -> list[_RowJob]:
    """One job per batch row, its passwords read here (the workers never see the environment)."""
    batch = recipe.batch
    if batch is None:
        return []
    jobs = []
    for row in batch.rows:
        key_password = passwords.get(f"{_row_key(row)}.key_password", row.key_password)
        outputs = _resolve_outputs(passwords, "batch.targets", batch.targets, row.name)
        jobs.append(
            _RowJob(recipe.trust, row, outputs, batch.allow_g1, when, key_password, add_password)
        )
    return jobs


def _shared_stores(
    recipe: Recipe, add_password: bytes | None, when: dt.datetime, passwords: _Passwords
) -> tuple[TrustStore, KeyStore | None]:
    """The recipe's trust store, and its [identity] key store when it has one, all checked."""
    source = recipe.source
    identity = recipe.identity
    key_password = passwords.get(
        "identity.key_password", identity.key_password if identity else None
    )
    old_store = None
    if identity is not None and identity.from_store is not None:
        store_password = passwords.get("identity.from_store_password", identity.from_store_password)
        assert store_password is not None  # RecipeIdentity: from_store comes with its password
        old_store = _OldStore(identity.from_store, store_password)
    try:
        # The add files are read here, by the builder: their errors are the trust table's.
        trust = _trust_builder(recipe.trust, add_password)
        if old_store is not None:
            # The old store's trusted CAs stay trusted: in its key store and every trust store.
            trust = trust.add_file(old_store.path, password=old_store.password)
        store = trust.at(when).build()
    except TruststoreBuilderError as exc:
        from_old = old_store is not None and exc.source == str(old_store.path)
        where = "identity.from_store" if from_old else "trust"
        raise _in_context(exc, _context(source, where)) from None
    if not store.entries:
        where = _context(source, "trust")
        msg = (
            f"{where}{': ' if where else ''}no certificate is left in the store after leaving "
            "out expired ones; nothing was written"
        )
        raise CheckError(msg, source=source or None)
    if identity is None:
        return store, None
    try:
        keystore = _keystore(
            trust,
            cert=identity.cert,
            key=identity.key,
            key_password=key_password,
            chain=identity.chain,
            alias=identity.alias,
            allow_g1=identity.allow_g1,
            at=when,
            old_store=old_store,
        )
    except TruststoreBuilderError as exc:
        raise _in_context(exc, _context(source, "identity")) from None
    return store, keystore


def _batch_files(source: str, outcomes: Sequence[_RowOutcome]) -> list[_Planned]:
    """Every row's files; or, if any row failed, a BatchError naming every failed row."""
    failures: list[TruststoreBuilderError] = []
    planned: list[_Planned] = []
    for outcome in outcomes:
        if outcome.error is not None:
            kind, problem, error_source, remedy = outcome.error
            where = f"{source}: batch.table[{outcome.name}]"
            failures.append(_in_context(kind(problem, source=error_source, remedy=remedy), where))
        for category, message in outcome.warned:
            warnings.warn(f"batch.table[{outcome.name}]: {message}", category, stacklevel=4)
        planned.extend(outcome.planned)
    if failures:
        shown = "; ".join(str(f) for f in failures[:_FAILURES_SHOWN])
        hidden = len(failures) - _FAILURES_SHOWN
        more = f"; and {hidden} more" if hidden > 0 else ""
        msg = (
            f"{source}: batch: {len(failures)} of {len(outcomes)} rows failed, nothing was "
            f"written: {shown}{more}"
        )
        raise BatchError(msg, source=source, failures=tuple(failures), rows=len(outcomes))
    return planned


#: How many failed rows a BatchError's message names (``failures`` holds them all).
_FAILURES_SHOWN = 5


def _check_planned_paths(source: str, planned: Sequence[_Planned]) -> None:
    """Two targets (a deployment output's files among them) writing one file: refused."""
    seen: dict[Path, str] = {}
    for file in planned:
        resolved = Path(os.path.abspath(file.path))  # noqa: PTH100  (no symlink resolution)
        if resolved in seen and seen[resolved] != file.file.target:
            _fail(
                source,
                f"{file.file.target}.path",
                f"{file.path} is also written by {seen[resolved]}",
            )
        seen[resolved] = file.file.target


def _check_destinations(source: str, outputs: Sequence[_Output], *, overwrite: bool) -> None:
    """Two targets writing one file; then each destination as the writer will check it.

    A deployment output's directory may exist and hold other files; its files are known only
    once serialised, and are checked then (by :class:`StagedFiles`, before any is renamed).
    """
    seen: dict[Path, str] = {}
    for output in outputs:
        if output.target.format.deployment is not None:
            if output.path.exists() and not output.path.is_dir():
                _fail(
                    source,
                    f"{output.key_path}.path",
                    f"{output.path}: a {output.target.format} output is written into a "
                    "directory, and this is a file",
                )
            continue
        resolved = Path(os.path.abspath(output.path))  # noqa: PTH100  (no symlink resolution)
        if resolved in seen:
            _fail(
                source,
                f"{output.key_path}.path",
                f"{output.path} is also written by {seen[resolved]}",
            )
        seen[resolved] = output.key_path
        directory = output.target.format is TargetFormat.CAPATH
        try:
            check_destinations(
                [] if directory else [output.path],
                [output.path] if directory else [],
                overwrite=overwrite,
            )
        except OutputExistsError as exc:
            raise _in_context(exc, _context(source, f"{output.key_path}.path")) from None


class _NewDirectories:
    """The directories a build created, to remove again if it fails."""

    def __init__(self) -> None:
        self.created: list[Path] = []

    def make(self, directory: Path, *, private: bool) -> None:
        """Create ``directory`` and its missing parents (0700 if ``private``, else 0755)."""
        if not directory.is_dir():
            self.created += make_directories(directory, private=private)


@contextlib.contextmanager
def _new_directories(outputs: Iterable[_Output]) -> Iterator[_NewDirectories]:
    """Create the outputs' missing directories (and parents); remove them again on an exception.

    0755, or 0700 for a directory that will hold a private key, whatever the umask. A
    deployment output's directory is its ``path``; the others', ``path``'s parent.
    """
    private: dict[Path, bool] = {}
    for output in outputs:
        fmt = output.target.format
        directory = output.path if fmt.deployment is not None else output.path.parent
        private[directory] = private.get(directory, False) or fmt.private
    directories = _NewDirectories()
    try:
        for directory, holds_keys in private.items():
            directories.make(directory, private=holds_keys)
        yield directories
    except BaseException:
        remove_directories(directories.created)
        raise
