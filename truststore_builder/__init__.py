"""Build the trust stores and key stores NHS systems need for the G1 to G2 PKI move.

>>> from truststore_builder import TrustStoreBuilder
>>> store = TrustStoreBuilder().add_nhs("int").build()
>>> [entry.alias for entry in store]
['nhs-ptl-root-authority', 'nhs-int-level-1c', 'nhs-ptl-root-authority-g2', 'nhs-int-authentication-g2']
"""

from __future__ import annotations

from truststore_builder._builders import KeyStoreBuilder, TrustStoreBuilder, alias_for
from truststore_builder._checks import verify_certificate
from truststore_builder._convert import convert
from truststore_builder._csr import (
    SigningRequest,
    bars_common_name,
    generate_signing_request,
    mesh_client_common_name,
)
from truststore_builder._errors import (
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
    KeyMismatchError,
    MalformedInputError,
    MissingPasswordError,
    NoCertificatesError,
    NotACertificateAuthorityError,
    OutputError,
    OutputExistsError,
    PinMismatchError,
    ReadBackError,
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
    KeyStore,
    NhsCa,
    StoreEntry,
    StoreFormat,
    TrustedEntry,
    TrustStore,
    sha256_fingerprint,
)
from truststore_builder._sources.files import load_certificates, read_store
from truststore_builder._sources.nhs import NhsCatalogue, load_nhs_catalogue, nhs_catalogue

__all__ = [
    "CertificateNotValidError",
    "CertificateUsageError",
    "ChainError",
    "CheckError",
    "Environment",
    "EnvironmentMismatchError",
    "ExpiredCertificateWarning",
    "G1IdentityWarning",
    "Generation",
    "GenerationError",
    "Identity",
    "IdentityEnvironmentError",
    "IdentityError",
    "IdentityReport",
    "InputError",
    "KeyMismatchError",
    "KeyStore",
    "KeyStoreBuilder",
    "MalformedInputError",
    "MissingPasswordError",
    "NhsCa",
    "NhsCatalogue",
    "NoCertificatesError",
    "NotACertificateAuthorityError",
    "OutputError",
    "OutputExistsError",
    "PinMismatchError",
    "ReadBackError",
    "SigningRequest",
    "StoreEntry",
    "StoreFormat",
    "TrustStore",
    "TrustStoreBuilder",
    "TrustedEntry",
    "TruststoreBuilderError",
    "TruststoreBuilderWarning",
    "UnknownFormatError",
    "WeakKeyError",
    "WrongPasswordError",
    "alias_for",
    "bars_common_name",
    "convert",
    "der_to_pem",
    "generate_signing_request",
    "load_certificates",
    "load_nhs_catalogue",
    "mesh_client_common_name",
    "nhs_catalogue",
    "pem_to_der",
    "read_store",
    "sha256_fingerprint",
    "verify_certificate",
]
