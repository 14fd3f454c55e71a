"""Build the trust stores and key stores NHS systems need for the G1 to G2 PKI move.

>>> from truststore_builder import TrustStoreBuilder
>>> store = TrustStoreBuilder().add_nhs("int").build()
>>> [entry.alias for entry in store]
['nhs-ptl-root-authority', 'nhs-int-level-1c', 'nhs-ptl-root-authority-g2', 'nhs-int-authentication-g2']
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from truststore_builder._builders import KeyStoreBuilder, TrustStoreBuilder, alias_for
from truststore_builder._errors import (
    BatchError,
    CertificateNotValidError,
    CertificateUsageError,
    ChainError,
    CheckError,
    EnvironmentMismatchError,
    ExpiredCertificateWarning,
    G1IdentityWarning,
    GenerationError,
    IdentityEnvironmentError,
    IdentityError,
    InputError,
    InvalidPasswordError,
    IssuerKeyUsageError,
    JksIntegrityNotCheckedWarning,
    KeyMismatchError,
    MalformedInputError,
    MissingPasswordError,
    NhsImpostorError,
    NoCertificatesError,
    NotACertificateAuthorityError,
    OutputError,
    OutputExistsError,
    PinMismatchError,
    ReadBackError,
    RecipeError,
    TruststoreBuilderError,
    TruststoreBuilderWarning,
    UnknownFormatError,
    WeakKeyError,
    WrongPasswordError,
)
from truststore_builder._formats.pem import der_to_pem, pem_to_der
from truststore_builder._model import (
    Environment,
    Generation,
    Identity,
    IdentityReport,
    NhsCa,
    StoreEntry,
    StoreFormat,
    TrustedEntry,
    sha256_fingerprint,
)
from truststore_builder._sources.files import load_certificates, read_store
from truststore_builder._sources.nhs import NhsCatalogue, load_nhs_catalogue, nhs_catalogue
from truststore_builder._stores import KeyStore, TrustStore
from truststore_builder._verify import verify_certificate

# Loaded on first use, so that `import truststore_builder` stays fast: these pull in ssl,
# sockets, thread pools and TOML parsing, or serve one task (signing requests, conversion,
# OpenSSL's subject hash) that building a store does not need.
_LAZY = {
    "BatchRow": "truststore_builder._recipe",
    "BuildResult": "truststore_builder._recipe",
    "DiffEntry": "truststore_builder._diff",
    "EndpointReport": "truststore_builder._endpoint",
    "HandshakeResult": "truststore_builder._endpoint",
    "Horizon": "truststore_builder._diff",
    "HorizonEntry": "truststore_builder._diff",
    "KeptEntry": "truststore_builder._diff",
    "KeyEntry": "truststore_builder._diff",
    "KeyEntryChange": "truststore_builder._diff",
    "Outcome": "truststore_builder._endpoint",
    "Probe": "truststore_builder._endpoint",
    "PasswordRef": "truststore_builder._recipe",
    "PresentedCertificate": "truststore_builder._endpoint",
    "Recipe": "truststore_builder._recipe",
    "RecipeBatch": "truststore_builder._recipe",
    "RecipeIdentity": "truststore_builder._recipe",
    "RecipeTarget": "truststore_builder._recipe",
    "RecipeTrust": "truststore_builder._recipe",
    "ServerChainReport": "truststore_builder._endpoint",
    "SigningRequest": "truststore_builder._csr",
    "StoreDiff": "truststore_builder._diff",
    "TargetFormat": "truststore_builder._recipe",
    "WrittenFile": "truststore_builder._recipe",
    "bars_common_name": "truststore_builder._csr",
    "check_endpoint": "truststore_builder._endpoint",
    "check_endpoints": "truststore_builder._endpoint",
    "convert": "truststore_builder._convert",
    "diff_stores": "truststore_builder._diff",
    "expiry_horizon": "truststore_builder._diff",
    "generate_signing_request": "truststore_builder._csr",
    "load_recipe": "truststore_builder._recipe",
    "mesh_client_common_name": "truststore_builder._csr",
    "openssl_certificate_hash": "truststore_builder._formats.capath",
    "openssl_subject_hash": "truststore_builder._formats.capath",
}

if TYPE_CHECKING:
    from truststore_builder._convert import convert
    from truststore_builder._csr import (
        SigningRequest,
        bars_common_name,
        generate_signing_request,
        mesh_client_common_name,
    )
    from truststore_builder._diff import (
        DiffEntry,
        Horizon,
        HorizonEntry,
        KeptEntry,
        KeyEntry,
        KeyEntryChange,
        StoreDiff,
        diff_stores,
        expiry_horizon,
    )
    from truststore_builder._endpoint import (
        EndpointReport,
        HandshakeResult,
        Outcome,
        PresentedCertificate,
        Probe,
        ServerChainReport,
        check_endpoint,
        check_endpoints,
    )
    from truststore_builder._formats.capath import openssl_certificate_hash, openssl_subject_hash
    from truststore_builder._recipe import (
        BatchRow,
        BuildResult,
        PasswordRef,
        Recipe,
        RecipeBatch,
        RecipeIdentity,
        RecipeTarget,
        RecipeTrust,
        TargetFormat,
        WrittenFile,
        load_recipe,
    )


__all__ = [
    "BatchError",
    "BatchRow",
    "BuildResult",
    "CertificateNotValidError",
    "CertificateUsageError",
    "ChainError",
    "CheckError",
    "DiffEntry",
    "EndpointReport",
    "Environment",
    "EnvironmentMismatchError",
    "ExpiredCertificateWarning",
    "G1IdentityWarning",
    "Generation",
    "GenerationError",
    "HandshakeResult",
    "Horizon",
    "HorizonEntry",
    "Identity",
    "IdentityEnvironmentError",
    "IdentityError",
    "IdentityReport",
    "InputError",
    "InvalidPasswordError",
    "IssuerKeyUsageError",
    "JksIntegrityNotCheckedWarning",
    "KeptEntry",
    "KeyEntry",
    "KeyEntryChange",
    "KeyMismatchError",
    "KeyStore",
    "KeyStoreBuilder",
    "MalformedInputError",
    "MissingPasswordError",
    "NhsCa",
    "NhsCatalogue",
    "NhsImpostorError",
    "NoCertificatesError",
    "NotACertificateAuthorityError",
    "Outcome",
    "OutputError",
    "OutputExistsError",
    "PasswordRef",
    "PinMismatchError",
    "PresentedCertificate",
    "Probe",
    "ReadBackError",
    "Recipe",
    "RecipeBatch",
    "RecipeError",
    "RecipeIdentity",
    "RecipeTarget",
    "RecipeTrust",
    "ServerChainReport",
    "SigningRequest",
    "StoreDiff",
    "StoreEntry",
    "StoreFormat",
    "TargetFormat",
    "TrustStore",
    "TrustStoreBuilder",
    "TrustedEntry",
    "TruststoreBuilderError",
    "TruststoreBuilderWarning",
    "UnknownFormatError",
    "WeakKeyError",
    "WrittenFile",
    "WrongPasswordError",
    "alias_for",
    "bars_common_name",
    "check_endpoint",
    "check_endpoints",
    "convert",
    "der_to_pem",
    "diff_stores",
    "expiry_horizon",
    "generate_signing_request",
    "load_certificates",
    "load_nhs_catalogue",
    "load_recipe",
    "mesh_client_common_name",
    "nhs_catalogue",
    "openssl_certificate_hash",
    "openssl_subject_hash",
    "pem_to_der",
    "read_store",
    "sha256_fingerprint",
    "verify_certificate",
]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - whatever the lazily loaded name is
    """Import a lazily loaded public name on first use."""
    module = _LAZY.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """Every public name, the lazily loaded ones included."""
    return sorted(set(globals()) | set(__all__))
