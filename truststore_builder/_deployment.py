"""Deployment outputs: a built store as the files a container, a gateway or a Windows host takes.

Each function here takes a built :class:`KeyStore` or :class:`TrustStore` and options, and
returns :class:`DeploymentFiles`: relative file names to bytes, with the names of those that
hold a private key or a password (written 0600). Every file is read back, by a parser separate
from its writer (PEM and keys by the package's readers, certificates compared by their DER),
before it is returned; nothing is written until
:meth:`DeploymentFiles.write` (or the caller) writes it.

- Kubernetes: :func:`kubernetes_tls_secret` (a ``kubernetes.io/tls`` Secret) and
  :func:`kubernetes_trust_bundle` (a ConfigMap laid out as cert-manager's trust-manager lays
  out its bundles, with the stores' password in a Secret of its own).
- Environment values: :func:`environment_values` and :func:`environment_files` (the MHS
  adaptor's variables by default).
- Order: :func:`bundle_pem` (root-first or issuer-first) and :func:`chain_files` (one chain
  per root, for gateways that take a chain per file).
- Windows and .NET: :func:`windows_ca_files` (roots and intermediates apart, for the Trusted
  Root and Intermediate Certification Authorities stores) and :func:`windows_pfx` (the client
  key with its full chain, legacy profile by default).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from truststore_builder._chains import BundleOrder, chains_by_root, ordered
from truststore_builder._errors import (
    CheckError,
    InvalidNameError,
    MissingPasswordError,
    ReadBackError,
)
from truststore_builder._formats import envfile, kubernetes
from truststore_builder._formats.keys import load_private_key
from truststore_builder._formats.pem import load_pem_certificates, serialize_pem_bundle
from truststore_builder._model import (
    DEPLOYMENT_FILES,
    DeploymentFormat,
    as_password_bytes,
    is_issued_by,
)
from truststore_builder._writing import make_directories, remove_directories, write_files

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

    from truststore_builder._formats.keys import PrivateKey
    from truststore_builder._model import TrustedEntry
    from truststore_builder._stores import KeyStore, TrustStore

__all__ = [
    "CaFileEncoding",
    "DeploymentFiles",
    "bundle_pem",
    "chain_files",
    "environment_files",
    "environment_values",
    "kubernetes_tls_secret",
    "kubernetes_trust_bundle",
    "read_back_tls_secret",
    "windows_ca_files",
    "windows_pfx",
]


@attrs.frozen(repr=False)
class DeploymentFiles:
    """The files one deployment output consists of, ready to write; read back already.

    Attributes:
        files: Relative file name (``/`` between directories) to content, in writing order.
        private: The names of the files that hold a private key or a password: written 0600.
        descriptions: What each file holds, in words, by name (a build's report shows it).
        certificates: The SHA-256 fingerprints of the CA certificates each file holds, by
            name (none for a file that holds no CA).
    """

    files: Mapping[str, bytes]
    private: frozenset[str] = frozenset()
    descriptions: Mapping[str, str] = attrs.field(factory=dict)
    certificates: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)

    def __repr__(self) -> str:
        """The file names, private ones marked; never their content."""
        names = ", ".join(f"{n} (private)" if n in self.private else n for n in self.files)
        return f"<DeploymentFiles {names}>"

    def planned(self, directory: str | Path) -> list[tuple[Path, bytes, bool]]:
        """``(path, content, private)`` for each file under ``directory``, as the writers take them.

        Raises:
            InvalidNameError: A name that would leave ``directory`` (absolute, or with ``..``).
        """
        folder = Path(directory)
        for name in self.files:
            parts = name.split("/")
            if name.startswith("/") or any(part in {"", ".", ".."} for part in parts):
                msg = f"file name {name!r} must be relative, with no empty, '.' or '..' part"
                raise InvalidNameError(msg, name=name, rule="relative file name")
        return [(folder / name, data, name in self.private) for name, data in self.files.items()]

    def write(self, directory: str | Path, *, overwrite: bool = False) -> list[Path]:
        """Write every file under ``directory``, all or none, atomically; private ones 0600.

        Missing directories (``directory`` itself, ``Root/`` and the like) are created first;
        those holding private files are created 0700.

        Returns:
            The paths written.

        Raises:
            OutputExistsError: A file exists and ``overwrite`` is false (nothing is written).
            OutputError: A file cannot be written (nothing is written).
        """
        planned = self.planned(directory)
        parents: dict[Path, bool] = {}
        for path, _data, private in planned:
            parents[path.parent] = parents.get(path.parent, False) or private
        created: list[Path] = []
        try:
            for parent, private in parents.items():
                created += make_directories(parent, private=private)
            return write_files(planned, overwrite=overwrite)
        except BaseException:
            remove_directories(created)
            raise


def _file_name(output: DeploymentFormat, index: int = 0, **fields: str) -> str:
    """The name of an output's ``index``-th file, from :data:`DEPLOYMENT_FILES`."""
    pattern, _private = DEPLOYMENT_FILES[output][index]
    return pattern.format(**fields)


def _fingerprints(entries: Sequence[TrustedEntry]) -> tuple[str, ...]:
    return tuple(entry.sha256 for entry in entries)


def _pem(certificates: Sequence[x509.Certificate]) -> bytes:
    """Plain PEM blocks, no comment headers: for values that must hold nothing but PEM."""
    return b"".join(c.public_bytes(Encoding.PEM) for c in certificates)


def _public_key_der(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _check_key_matches(key: PrivateKey, certificate: x509.Certificate, where: str) -> None:
    if _public_key_der(key.public_key()) != _public_key_der(certificate.public_key()):
        msg = f"{where}: the private key read back is not the first certificate's; nothing was written"
        raise ReadBackError(msg)


def _check_certificates(
    found: Sequence[x509.Certificate], meant: Sequence[x509.Certificate], where: str
) -> None:
    if list(found) != list(meant):
        msg = (
            f"{where}: read back {len(found)} certificates where {len(meant)} were meant, or not "
            "the same ones in the same order; nothing was written"
        )
        raise ReadBackError(msg)


def bundle_pem(truststore: TrustStore, order: BundleOrder | str = BundleOrder.ROOT_FIRST) -> bytes:
    """The trust store's PEM bundle, comment headers included, in ``order``.

    Args:
        truststore: The store.
        order: ``root-first`` (the store's own order, as :meth:`TrustStore.to_pem`) or
            ``issuer-first`` (each certificate before its issuer: intermediate, then root).

    Raises:
        ValueError: An unknown order.
        ReadBackError: The bundle does not read back as the entries in that order.
    """
    entries = ordered(truststore.entries, order)
    data = serialize_pem_bundle(entries)
    if entries:
        found = load_pem_certificates(data, "<bundle read-back>")
        _check_certificates(found, [e.certificate for e in entries], "PEM bundle")
    return data


# --- Kubernetes -------------------------------------------------------------------------------


def read_back_tls_secret(
    data: bytes,
    *,
    name: str,
    chain: Sequence[x509.Certificate],
    ca: Sequence[x509.Certificate] | None,
) -> None:
    """Read a ``kubernetes.io/tls`` Secret back: its name, type, chain, CAs, and matching key.

    Raises:
        ReadBackError: It is not a TLS Secret named ``name``, ``tls.crt`` is not ``chain``,
            ``ca.crt`` is not ``ca``, or ``tls.key`` is not the key of ``chain[0]``.
    """
    where = f"Secret {name}"
    manifest = kubernetes.read_manifest(data, where)
    metadata = manifest.get("metadata")
    if (
        manifest.get("kind") != "Secret"
        or manifest.get("type") != "kubernetes.io/tls"
        or not isinstance(metadata, dict)
        or metadata.get("name") != name
    ):
        msg = f"{where}: does not read back as a kubernetes.io/tls Secret of that name"
        raise ReadBackError(msg)
    values = kubernetes.decode_data(manifest, "data", where)
    expected_keys = {"tls.crt", "tls.key"} | ({"ca.crt"} if ca is not None else set())
    if set(values) != expected_keys:
        msg = f"{where}: holds the keys {sorted(values)}, not {sorted(expected_keys)}"
        raise ReadBackError(msg)
    _check_certificates(load_pem_certificates(values["tls.crt"], f"{where} tls.crt"), chain, where)
    if ca is not None:
        _check_certificates(load_pem_certificates(values["ca.crt"], f"{where} ca.crt"), ca, where)
    key = load_private_key(values["tls.key"], None, f"{where} tls.key")
    _check_key_matches(key, chain[0], f"{where} tls.key")


def kubernetes_tls_secret(
    keystore: KeyStore,
    *,
    name: str,
    namespace: str | None = None,
    include_ca: bool = True,
    order: BundleOrder | str = BundleOrder.ROOT_FIRST,
) -> DeploymentFiles:
    """A Secret of type ``kubernetes.io/tls`` holding the client identity: ``<name>.secret.yaml``.

    ``tls.crt`` is the client's chain as it presents it (leaf first, the root left out),
    ``tls.key`` its private key (unencrypted PKCS#8 PEM: Kubernetes and the programs that mount
    such a Secret take no password), and ``ca.crt`` the trust store's PEM bundle. The data is
    the same as ``kubectl create secret tls NAME --cert tls.crt --key tls.key`` makes.

    Args:
        keystore: The built key store.
        name: The Secret's name (an RFC 1123 subdomain).
        namespace: Its namespace (an RFC 1123 label), or None to leave it to ``kubectl -n``.
        include_ca: Add ``ca.crt``.
        order: The order of ``ca.crt``: ``root-first`` or ``issuer-first``.

    Returns:
        One private file.

    Raises:
        InvalidNameError: The name or namespace breaks Kubernetes' rules.
        ReadBackError: The manifest does not read back as the identity.
    """
    chain = list(load_pem_certificates(keystore.chain_pem(), "<client chain>"))
    ca_entries = ordered(keystore.trust_store.entries, order) if include_ca else None
    data = kubernetes.tls_secret_manifest(
        name,
        namespace,
        certificate_chain=_pem(chain),
        private_key=keystore.key_pem(),
        ca_bundle=serialize_pem_bundle(ca_entries) if ca_entries is not None else None,
    )
    ca = [e.certificate for e in ca_entries] if ca_entries is not None else None
    read_back_tls_secret(data, name=name, chain=chain, ca=ca)
    file_name = _file_name(DeploymentFormat.K8S_TLS_SECRET, name=name)
    where = f" in namespace {namespace}" if namespace else ""
    cas = f", {len(ca_entries)} CAs" if ca_entries is not None else ""
    return DeploymentFiles(
        {file_name: data},
        frozenset({file_name}),
        {file_name: f"Kubernetes TLS Secret {name}{where}: client {keystore.alias}{cas}"},
        {file_name: _fingerprints(ca_entries or ())},
    )


def kubernetes_trust_bundle(
    truststore: TrustStore,
    *,
    name: str,
    namespace: str | None = None,
    key: str = "trust-bundle.pem",
    jks_key: str | None = None,
    pkcs12_key: str | None = None,
    password: str | bytes | None = None,
    password_key: str = "password",  # noqa: S107 - the key's name, not a password
    order: BundleOrder | str = BundleOrder.ROOT_FIRST,
) -> DeploymentFiles:
    """A ConfigMap holding the trust store, as cert-manager's trust-manager lays out a Bundle.

    ``<name>.configmap.yaml``: the PEM bundle in ``data`` under ``key``; with ``jks_key`` or
    ``pkcs12_key`` (trust-manager's ``additionalFormats``, conventionally ``bundle.jks`` and
    ``bundle.p12``), the JKS or PKCS#12 trust store in ``binaryData`` under that key. Their
    password goes in a Secret of its own, ``<name>-password`` (``<name>-password.secret.yaml``,
    private) under ``password_key``, for a pod to read with ``secretKeyRef``: a ConfigMap is
    not the place for a password.

    Args:
        truststore: The built trust store.
        name: The ConfigMap's name (an RFC 1123 subdomain).
        namespace: Its namespace (an RFC 1123 label), or None.
        key: The PEM bundle's key.
        jks_key: The JKS trust store's key, or None for no JKS.
        pkcs12_key: The PKCS#12 trust store's key, or None for no PKCS#12.
        password: The stores' password: required with ``jks_key`` or ``pkcs12_key``
            (Java's ``changeit`` is never assumed).
        password_key: The password's key in the Secret.
        order: The PEM bundle's order: ``root-first`` or ``issuer-first``.

    Returns:
        The ConfigMap, and the password Secret when a store is binary.

    Raises:
        InvalidNameError: A name, namespace or key breaks Kubernetes' rules, or a key is used
            twice.
        MissingPasswordError: A JKS or PKCS#12 store without a password.
        ReadBackError: A manifest (or a store in it) does not read back as meant.
    """
    binary_keys = [k for k in (jks_key, pkcs12_key) if k is not None]
    secret = as_password_bytes(password)
    if binary_keys and not secret:
        msg = (
            "a JKS or PKCS#12 trust store in the ConfigMap needs a password, and none was "
            "given (Java's conventional 'changeit' is never assumed)"
        )
        raise MissingPasswordError(msg)
    if len({key, *binary_keys}) != 1 + len(binary_keys):
        msg = f"ConfigMap {name}: the PEM, JKS and PKCS#12 keys must differ"
        raise InvalidNameError(msg, name=key, rule="unique keys")
    pem_bundle = bundle_pem(truststore, order)
    binary: dict[str, bytes] = {}
    if jks_key is not None:
        binary[jks_key] = truststore.serialize("jks", secret)
    if pkcs12_key is not None:
        binary[pkcs12_key] = truststore.serialize("p12", secret)
    configmap = kubernetes.configmap_manifest(
        name, namespace, text={key: pem_bundle.decode("ascii")}, binary=binary
    )
    where = f"ConfigMap {name}"
    manifest = kubernetes.read_manifest(configmap, where)
    data = manifest.get("data")
    if not isinstance(data, dict) or data.get(key) != pem_bundle.decode("ascii"):
        msg = f"{where}: the PEM bundle does not read back as written; nothing was written"
        raise ReadBackError(msg)
    if binary and kubernetes.decode_data(manifest, "binaryData", where) != binary:
        msg = f"{where}: the binary stores do not read back as written; nothing was written"
        raise ReadBackError(msg)
    configmap_file = _file_name(DeploymentFormat.K8S_TRUST_BUNDLE, 0, name=name)
    files = {configmap_file: configmap}
    formats = ", ".join(
        ["PEM", *(["JKS"] if jks_key else []), *(["PKCS#12"] if pkcs12_key else [])]
    )
    descriptions = {
        configmap_file: f"Kubernetes ConfigMap {name}: {len(truststore)} CAs ({formats})"
    }
    certificates = {configmap_file: _fingerprints(ordered(truststore.entries, order))}
    if not binary:
        return DeploymentFiles(files, frozenset(), descriptions, certificates)
    assert secret is not None  # checked above
    secret_name = kubernetes.check_object_name(f"{name}-password")
    manifest_bytes = kubernetes.opaque_secret_manifest(
        secret_name, namespace, {password_key: secret}
    )
    read = kubernetes.decode_data(
        kubernetes.read_manifest(manifest_bytes, f"Secret {secret_name}"),
        "data",
        f"Secret {secret_name}",
    )
    if read != {password_key: secret}:
        msg = f"Secret {secret_name}: does not read back as written; nothing was written"
        raise ReadBackError(msg)
    secret_file = _file_name(DeploymentFormat.K8S_TRUST_BUNDLE, 1, name=name)
    files[secret_file] = manifest_bytes
    descriptions[secret_file] = (
        f"Kubernetes Secret {secret_name}: the password of {configmap_file}'s stores"
    )
    return DeploymentFiles(files, frozenset({secret_file}), descriptions, certificates)


# --- Environment values -----------------------------------------------------------------------


def _environment_pem(
    keystore: KeyStore, *, client_chain: bool, order: BundleOrder | str
) -> tuple[list[x509.Certificate], str, list[x509.Certificate]]:
    chain = load_pem_certificates(keystore.chain_pem(), "<client chain>")
    presented = chain if client_chain else chain[:1]
    cas = [e.certificate for e in ordered(keystore.trust_store.entries, order)]
    return presented, keystore.key_pem().decode("ascii"), cas


def environment_values(
    keystore: KeyStore,
    *,
    cert_variable: str = envfile.MHS_CERT_VARIABLE,
    key_variable: str = envfile.MHS_KEY_VARIABLE,
    ca_variable: str = envfile.MHS_CA_VARIABLE,
    client_chain: bool = False,
    order: BundleOrder | str = BundleOrder.ISSUER_FIRST,
) -> dict[str, str]:
    """The client's certificate, key and CA certificates as PEM text, one variable each.

    The values hold real line breaks, as a process's environment must (the MHS adaptor writes
    each value to a file as it is); :func:`envfile.one_line` gives the one-line spelling.

    Args:
        keystore: The built key store.
        cert_variable: The certificate's variable (the MHS adaptor's by default).
        key_variable: The private key's variable (unencrypted PKCS#8 PEM).
        ca_variable: The CA certificates' variable.
        client_chain: Put the client's intermediates after its certificate (the MHS adaptor
            takes the endpoint certificate alone, the default).
        order: The CA certificates' order; ``issuer-first`` (the default) is the MHS
            adaptor's: issuing subCA, then root.

    Raises:
        InvalidNameError: A variable name a shell cannot set, or one used twice.
    """
    names = [envfile.check_variable_name(n) for n in (cert_variable, key_variable, ca_variable)]
    if len(set(names)) != len(names):
        msg = "the certificate, key and CA variables must have different names"
        raise InvalidNameError(msg, name=cert_variable, rule="unique names")
    presented, key_pem, cas = _environment_pem(keystore, client_chain=client_chain, order=order)
    return {
        cert_variable: _pem(presented).decode("ascii"),
        key_variable: key_pem,
        ca_variable: _pem(cas).decode("ascii"),
    }


def environment_files(
    keystore: KeyStore,
    *,
    stem: str = "mhs",
    cert_variable: str = envfile.MHS_CERT_VARIABLE,
    key_variable: str = envfile.MHS_KEY_VARIABLE,
    ca_variable: str = envfile.MHS_CA_VARIABLE,
    client_chain: bool = False,
    order: BundleOrder | str = BundleOrder.ISSUER_FIRST,
) -> DeploymentFiles:
    """The environment values as ``<stem>.env`` (Docker Compose) and ``<stem>-env.sh`` (bash).

    Both hold the private key: both are private (0600). ``<stem>.env`` is for Compose's
    ``env_file:`` (or python-dotenv); ``<stem>-env.sh`` is for ``source`` in bash. Each is read
    back, and the key checked against the certificate, before it is returned. See
    :func:`environment_values` for the arguments.

    Raises:
        InvalidNameError: ``stem`` is not a plain file name, or a variable name is refused.
        ReadBackError: A file does not read back as the values, or the key is not the
            certificate's.
    """
    if not stem or "/" in stem or stem.startswith(".") or not stem.isprintable():
        msg = f"file stem {stem!r} must be a plain file name (no '/', not hidden, printable)"
        raise InvalidNameError(msg, name=stem, rule="plain file name")
    values = environment_values(
        keystore,
        cert_variable=cert_variable,
        key_variable=key_variable,
        ca_variable=ca_variable,
        client_chain=client_chain,
        order=order,
    )
    comment = "Holds a private key: keep this file private (mode 0600) and out of version control."
    descriptions: dict[str, str] = {}
    cas = _fingerprints(ordered(keystore.trust_store.entries, order))
    files = {}
    for index, dialect, reader in (
        (0, envfile.EnvDialect.DOTENV, "Docker Compose env_file"),
        (1, envfile.EnvDialect.SHELL, "bash source"),
    ):
        file_name = _file_name(DeploymentFormat.ENV, index, stem=stem)
        descriptions[file_name] = (
            f"environment values of {keystore.alias} ({cert_variable}, {key_variable}, "
            f"{ca_variable}) for {reader}"
        )
        data = envfile.serialize_env_file(values, dialect, comment)
        read = envfile.read_env_file(data, dialect, file_name)
        if read != values:
            msg = f"{file_name}: does not read back as the values; nothing was written"
            raise ReadBackError(msg)
        certificate = load_pem_certificates(read[cert_variable].encode(), file_name)[0]
        key = load_private_key(read[key_variable].encode(), None, file_name)
        _check_key_matches(key, certificate, file_name)
        files[file_name] = data
    return DeploymentFiles(files, frozenset(files), descriptions, dict.fromkeys(files, cas))


# --- Chains per root --------------------------------------------------------------------------


def _file_stem(alias: str) -> str:
    """An alias as a file name: the aliases the builders make are already safe ones."""
    if not alias or alias.startswith(".") or not all(c.isalnum() or c in "-_." for c in alias):
        msg = f"alias {alias!r} cannot name a file: use letters, digits, '-', '_' and '.'"
        raise InvalidNameError(msg, name=alias, rule="plain file name")
    return alias


def _check_chain(certificates: Sequence[x509.Certificate], where: str) -> None:
    """Each certificate issued by one after it, the last a self-signed root (``openssl verify``).

    Raises:
        ReadBackError: A certificate whose issuer does not follow it, or no root at the end.
    """
    for index, certificate in enumerate(certificates):
        issuers = certificates[index + 1 :]
        if not any(is_issued_by(certificate, issuer) for issuer in issuers):
            if index == len(certificates) - 1 and is_issued_by(certificate, certificate):
                return
            msg = (
                f"{where}: certificate {index + 1} is not followed by its issuer, or the file "
                "does not end with a self-signed root; nothing was written"
            )
            raise ReadBackError(msg)


def chain_files(truststore: TrustStore, *, prefix: str = "chain-") -> DeploymentFiles:
    """One PEM file per root, ``<prefix><root alias>.pem``: intermediates (deepest first), root.

    For gateways that take one chain per file: Azure Application Gateway's trusted client CA
    certificates ("the entire client CA certificate chain in one file, and only one chain per
    file"). A store holding G1 and G2 gives two files. An entry under no root of the store
    (an intermediate whose root is absent) would be in no file, so it is refused.

    Raises:
        CheckError: An entry chains to no self-signed root of the store.
        InvalidNameError: A root's alias cannot name a file.
        ReadBackError: A file is not one chain ending in its root.
    """
    chains = chains_by_root(truststore.entries)
    in_chains = {id(entry) for chain in chains.values() for entry in chain}
    orphans = [entry for entry in truststore.entries if id(entry) not in in_chains]
    if orphans:
        named = "; ".join(f"{entry.alias} (issuer {entry.issuer})" for entry in orphans)
        msg = (
            f"chain files: {named} chains to no root of the store, so no chain file would hold "
            "it: add its root, or leave it out; nothing was written"
        )
        raise CheckError(msg)
    files = {}
    descriptions = {}
    certificates = {}
    for alias, chain in chains.items():
        file_name = _file_name(DeploymentFormat.CHAINS, prefix=prefix, root=_file_stem(alias))
        data = serialize_pem_bundle(chain)
        found = load_pem_certificates(data, file_name)
        _check_certificates(found, [e.certificate for e in chain], file_name)
        _check_chain(found, file_name)
        files[file_name] = data
        descriptions[file_name] = f"chain of {alias}, {len(chain)} certificates, issuer-first"
        certificates[file_name] = _fingerprints(chain)
    return DeploymentFiles(files, frozenset(), descriptions, certificates)


# --- Windows and .NET -------------------------------------------------------------------------


class CaFileEncoding(enum.StrEnum):
    """How :func:`windows_ca_files` writes each certificate."""

    #: Binary DER, ``.cer``: what the Windows certificate import wizard offers first.
    DER = "der"
    #: Base64 PEM, ``.crt``: what Windows also reads, and a text editor shows.
    PEM = "pem"


def windows_ca_files(
    truststore: TrustStore, *, encoding: CaFileEncoding | str = CaFileEncoding.DER
) -> DeploymentFiles:
    r"""Each CA certificate in its own file, roots and intermediates apart, for Windows' stores.

    ``Root/<alias>.cer`` for each self-signed root, to import into Trusted Root Certification
    Authorities (``Import-Certificate -CertStoreLocation Cert:\LocalMachine\Root``);
    ``CA/<alias>.cer`` for each other CA, into Intermediate Certification Authorities
    (``Cert:\LocalMachine\CA``), as NHS England asks. ``Root`` and ``CA`` are the stores'
    own names. With ``encoding="pem"`` the files are PEM and named ``.crt``.

    Raises:
        ValueError: An unknown encoding.
        InvalidNameError: An alias cannot name a file.
        ReadBackError: A file does not read back as its certificate.
    """
    chosen = CaFileEncoding(encoding)
    files = {}
    descriptions = {}
    certificates = {}
    for entry in truststore.entries:
        certificate = entry.certificate
        root = is_issued_by(certificate, certificate)
        file_name = _file_name(
            DeploymentFormat.WINDOWS_CA, 0 if root else 1, alias=_file_stem(entry.alias)
        )
        if chosen is CaFileEncoding.DER:
            data = certificate.public_bytes(Encoding.DER)
            found = [x509.load_der_x509_certificate(data)]
        else:
            file_name = file_name.removesuffix(".cer") + ".crt"
            data = certificate.public_bytes(Encoding.PEM)
            found = load_pem_certificates(data, file_name)
        _check_certificates(found, [certificate], file_name)
        files[file_name] = data
        store = "Trusted Root" if root else "Intermediate"
        descriptions[file_name] = (
            f"{entry.alias}, {chosen.value.upper()}, for {store} Certification Authorities"
        )
        certificates[file_name] = (entry.sha256,)
    return DeploymentFiles(files, frozenset(), descriptions, certificates)


def windows_pfx(
    keystore: KeyStore,
    password: str | bytes,
    *,
    file_name: str | None = None,
    profile: str = "legacy",
    include_trusted: bool = False,
) -> DeploymentFiles:
    """The client key with its full chain (leaf, intermediates, root) as one PFX file, private.

    For IIS and Kestrel: the legacy profile (3DES, SHA-1 MAC) by default, which Windows Server
    2016, .NET Framework and every later reader import; ``profile="modern"`` for Windows
    Server 2019 and .NET 5 on. The trust store's CAs are left out unless ``include_trusted``
    (an import puts every certificate of a PFX somewhere; Windows' own stores hold the trust).

    Raises:
        MissingPasswordError: No password (Windows and Java read a password-less key store
            badly).
        InvalidNameError: ``file_name`` is not a plain file name.
        ReadBackError: The PFX does not read back as the key entry and its chain.
    """
    file_name = _file_name(DeploymentFormat.PFX) if file_name is None else file_name
    if (
        not file_name
        or "/" in file_name
        or file_name.startswith(".")
        or not file_name.isprintable()
    ):
        msg = f"file name {file_name!r} must be a plain file name (no '/', not hidden, printable)"
        raise InvalidNameError(msg, name=file_name, rule="plain file name")
    if not as_password_bytes(password):
        msg = "a PFX holding a private key needs a password, and none was given"
        raise MissingPasswordError(msg)
    data = keystore.to_pkcs12(password, profile=profile, include_trusted=include_trusted)
    trusted = keystore.trust_store.entries if include_trusted else ()
    cas = f", {len(trusted)} CAs" if include_trusted else ""
    return DeploymentFiles(
        {file_name: data},
        frozenset({file_name}),
        {
            file_name: f"PFX of {keystore.alias}, {len(keystore.chain)} in chain{cas}, {profile} profile"
        },
        {file_name: _fingerprints(trusted)},
    )
