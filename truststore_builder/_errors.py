"""Every exception and warning truststore_builder raises, under one base class each.

The hierarchy::

    TruststoreBuilderError
    ├── InputError                 input that cannot be read
    │   ├── UnknownFormatError     content that is no certificate format we read
    │   ├── MalformedInputError    a known format, badly encoded (truncated, bad base64, ...)
    │   ├── NoCertificatesError    a file or directory that holds no certificate
    │   ├── WrongPasswordError     wrong password, or a failed integrity check (MAC, JKS digest)
    │   ├── MissingPasswordError   a store that needs a password and was given none
    │   ├── InvalidPasswordError   a password no store can hold (a NUL byte, not UTF-8 text,
    │   │                          not ASCII for JCEKS); also a ValueError
    │   ├── InvalidNameError       a name a deployment target cannot hold (a Kubernetes object
    │   │                          name, an environment variable name); also a ValueError
    │   ├── RecipeError            a recipe key that is unknown, mistyped, missing or refused
    │   └── PasswordMapError       a password map (inspect's store passwords) that is refused
    ├── CheckError                 a check refuses the build
    │   ├── PinMismatchError       an NHS catalogue file does not match its pinned fingerprint
    │   │   └── NhsImpostorError   a certificate carries an NHS CA's subject but is not it
    │   ├── NotACertificateAuthorityError
    │   ├── EnvironmentMismatchError
    │   ├── ReadBackError          a written store does not read back as what was meant
    │   ├── CatalogueUpdateError   a CA certificate offered to a catalogue update is refused
    │   └── IdentityError          a client identity (key + certificate) fails a rule
    │       ├── KeyMismatchError       the private key is not the certificate's
    │       │   └── ReplyKeyMismatchError  a renewed certificate for another key than the store's
    │       ├── WeakKeyError           RSA below 2048 bits, EC below 256
    │       ├── CertificateNotValidError   expired or not yet valid at the validation time
    │       ├── CertificateUsageError  no clientAuth in the extended key usage
    │       ├── ChainError             no path to a trusted root (names the missing issuer)
    │       │   └── IssuerKeyUsageError    an issuer whose keyUsage lacks keyCertSign
    │       ├── IdentityEnvironmentError   issued for another environment (also an
    │       │                              EnvironmentMismatchError)
    │       └── GenerationError        a G1 client certificate, not explicitly allowed
    ├── OutputError                a file cannot or may not be written
    │   └── OutputExistsError      the destination exists and overwriting was not asked for
    └── BatchError                 rows of a recipe's batch failed; carries each row's error

Messages name the file (or input) and the rule, and never contain a password or key material.
The errors carry no exit status: the command line maps them to one (``_cli.errors``).
"""

from __future__ import annotations

__all__ = [
    "ALLOW_G1_REMEDY",
    "ALLOW_IMPOSTORS_REMEDY",
    "ALLOW_LEAF_REMEDY",
    "OVERWRITE_REMEDY",
    "BatchError",
    "CatalogueUpdateError",
    "CertificateNotValidError",
    "CertificateUsageError",
    "ChainError",
    "CheckError",
    "DerDecodeError",
    "EnvironmentMismatchError",
    "ExpiredCertificateWarning",
    "G1IdentityWarning",
    "GenerationError",
    "IdentityEnvironmentError",
    "IdentityError",
    "InputError",
    "InvalidNameError",
    "InvalidPasswordError",
    "IssuerKeyUsageError",
    "JksIntegrityNotCheckedWarning",
    "KeyMismatchError",
    "MalformedInputError",
    "MissingPasswordError",
    "NhsImpostorError",
    "NoCertificatesError",
    "NotACertificateAuthorityError",
    "OutputError",
    "OutputExistsError",
    "PasswordMapError",
    "PinMismatchError",
    "ReadBackError",
    "RecipeError",
    "TruststoreBuilderError",
    "TruststoreBuilderWarning",
    "UnknownFormatError",
    "WeakKeyError",
    "WrongPasswordError",
]


#: The remedy of an OutputExistsError, in Python's terms (the command line says --force).
OVERWRITE_REMEDY = "pass overwrite=True to replace it"
#: The remedy of a GenerationError, in Python's terms (``--allow-g1``, or a recipe's key).
ALLOW_G1_REMEDY = "call allow_g1() to package it anyway (it then warns)"
#: The remedy of a NotACertificateAuthorityError, in Python's terms (``--allow-leaf``, a key).
ALLOW_LEAF_REMEDY = "add its issuer instead, or call allow_leaf() to trust it anyway"
#: The remedy of an NhsImpostorError, in Python's terms (``--allow-test-pki-impostors``, a key).
ALLOW_IMPOSTORS_REMEDY = (
    "a test PKI that imitates NHS names must be allowed explicitly: call allow_test_pki_impostors()"
)


class TruststoreBuilderError(Exception):
    """Base class of every error truststore_builder raises.

    Attributes:
        source: The file, directory or input the error is about ("<bytes>" for in-memory data),
            or None when no single input is to blame.
        problem: The message without its remedy.
        remedy: What to change, in the terms of whoever made the call: Python's argument
            (:data:`OVERWRITE_REMEDY`), which the command line and recipes replace with their
            own option or key; None when there is nothing to change but the input.
    """

    def __init__(
        self, message: str, *, source: str | None = None, remedy: str | None = None
    ) -> None:
        """Build the error; ``message`` should already name the input and the rule."""
        super().__init__(f"{message}; {remedy}" if remedy else message)
        self.source = source
        self.problem = message
        self.remedy = remedy


class InputError(TruststoreBuilderError):
    """Input that cannot be read: unknown format, malformed, empty or locked."""


class UnknownFormatError(InputError):
    """The content is none of the formats truststore_builder reads."""


class MalformedInputError(InputError):
    """The content looks like a known format but is not validly encoded."""


class NoCertificatesError(InputError):
    """A file, a byte string or a directory holds no certificate."""


class WrongPasswordError(InputError):
    """The password is wrong, or the store's integrity check (MAC, JKS digest) fails."""


class MissingPasswordError(InputError):
    """A store needs a password and none was given."""


class InvalidPasswordError(InputError, ValueError):
    """A password that no store can hold, refused before any library is handed it.

    A NUL byte (OpenSSL takes a password as a C string, and cryptography panics, printing the
    password, when given one), a password that is not UTF-8 text where Java must be given the
    same characters, or one outside printable ASCII for a JCEKS key. The message says which
    rule, never the password. Also a ValueError, as a wrong value given to a function.
    """


class InvalidNameError(InputError, ValueError):
    """A name that the place a file is deployed to would refuse, refused before anything is made.

    A Kubernetes object name that is no RFC 1123 subdomain (or a namespace that is no RFC 1123
    label), a ConfigMap or Secret key with a character Kubernetes refuses, an environment
    variable name a shell cannot set. The message names the name, the rule and where it was
    given. Also a ValueError, as a wrong value given to a function.

    Attributes:
        name: The name refused.
        rule: The rule it breaks, e.g. ``RFC 1123 subdomain``.
    """

    def __init__(self, message: str, *, name: str, rule: str, source: str | None = None) -> None:
        """Build the error; ``message`` should already name the name and the rule."""
        super().__init__(message, source=source)
        self.name = name
        self.rule = rule


class RecipeError(InputError):
    """A recipe key is unknown, of the wrong type, names a missing file, or is refused.

    The message starts ``<recipe file>: <key path>:``, e.g.
    ``recipe.toml: targets[2].password_env: the environment variable it names is not set (its
    name is not shown)``.

    Attributes:
        path: The recipe file (``<recipe>`` for one made in Python).
        key_path: Where in the recipe: ``trust.add[1]``, ``targets[2].password_env``,
            ``batch.table[mbx03].key``.
    """

    def __init__(
        self, message: str, *, path: str | None = None, key_path: str | None = None
    ) -> None:
        """Build the error; ``message`` should already start with the file and the key path."""
        super().__init__(message, source=path)
        self.path = path
        self.key_path = key_path


class PasswordMapError(InputError):
    """A password map (store path glob to a password's variable or file) cannot be used.

    Refused when it cannot be parsed, when a rule lacks a glob or a reference, and when a value
    looks like a password written into the map: a map names where each password is, never the
    password itself. The message starts ``<map file>: rule N:`` and never quotes a value.

    Attributes:
        path: The map file.
        rule: The rule's number (1 for the first), or None for the whole file.
    """

    def __init__(self, message: str, *, path: str, rule: int | None = None) -> None:
        """Build the error; ``message`` should already start with the file and the rule."""
        super().__init__(message, source=path)
        self.path = path
        self.rule = rule


class CheckError(TruststoreBuilderError):
    """A check refused the build: nothing has been written."""


class PinMismatchError(CheckError):
    """An NHS catalogue certificate does not match the fingerprint pinned in its manifest."""


class NhsImpostorError(PinMismatchError):
    """A certificate carries the subject of an NHS CA but is not its pinned certificate.

    Attributes:
        nhs_name: The NHS CA it claims to be.
        sha256: Its own SHA-256 fingerprint.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None,
        nhs_name: str,
        sha256: str,
        remedy: str | None = None,
    ) -> None:
        """Build the error; the message names the input, the NHS CA and the fingerprint."""
        super().__init__(message, source=source, remedy=remedy)
        self.nhs_name = nhs_name
        self.sha256 = sha256


class NotACertificateAuthorityError(CheckError):
    """A certificate that is not a CA was offered to a trust store without allow_leaf."""


class EnvironmentMismatchError(CheckError):
    """An NHS certificate from another environment was offered to this environment's store."""


class CatalogueUpdateError(CheckError):
    """A CA certificate offered to a catalogue update (``nhs update``) is refused.

    It does not chain by signature to a pinned NHS CA (a forged one carries the right issuer
    name and a signature that key did not make), it is a root without the pin the user gave,
    it is no CA, or its environment cannot be told. Nothing is written.
    """


class ReadBackError(CheckError):
    """A store, read back after serialisation, does not hold what was meant to go in."""


class IdentityError(CheckError):
    """A client identity (private key + certificate + chain) breaks a rule.

    Attributes:
        rule: The rule's short name (``key-match``, ``key-strength``, ``validity``,
            ``client-auth``, ``chain``, ``issuer-key-usage``, ``environment``,
            ``generation``).
    """

    rule = "identity"


class KeyMismatchError(IdentityError):
    """The private key does not belong to the certificate."""

    rule = "key-match"


class ReplyKeyMismatchError(KeyMismatchError):
    """A new certificate meant for a key store's key entry certifies another key.

    It is not the CA's reply to a request made with that entry's key (``csr --from-store``,
    ``keytool -certreq``): perhaps the reply to another request, or another entry's.
    """


class WeakKeyError(IdentityError):
    """The certificate's key is too weak (RSA below 2048 bits, EC below 256)."""

    rule = "key-strength"


class CertificateNotValidError(IdentityError):
    """The certificate is expired, or not yet valid, at the validation time."""

    rule = "validity"


class CertificateUsageError(IdentityError):
    """The certificate may not be used as a TLS client certificate (no clientAuth)."""

    rule = "client-auth"


class ChainError(IdentityError):
    """No path from the certificate to a trusted root: a missing issuer or a bad signature."""

    rule = "chain"


class IssuerKeyUsageError(ChainError):
    """A CA in the chain signs certificates although its keyUsage does not allow it."""

    rule = "issuer-key-usage"


class IdentityEnvironmentError(IdentityError, EnvironmentMismatchError):
    """The client certificate's NHS issuer serves another environment (PTL in prod, say)."""

    rule = "environment"


class GenerationError(IdentityError):
    """A G1 client certificate, where only G2 is packaged unless G1 is explicitly allowed."""

    rule = "generation"


class OutputError(TruststoreBuilderError):
    """A file cannot, or may not, be written."""


class OutputExistsError(OutputError):
    """The destination exists and replacing it was not asked for (or cannot be replaced).

    Its remedy is :data:`OVERWRITE_REMEDY` when overwriting would replace it (the command line
    shows ``--force`` instead); a directory where a file goes has none.
    """


class BatchError(TruststoreBuilderError):
    """One or more rows of a recipe's batch failed; nothing was written.

    Attributes:
        failures: Each failed row's error (its message starts with the row's key path,
            ``batch.table[mbx03]``), in table order.
        rows: How many rows the batch has.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        failures: tuple[TruststoreBuilderError, ...] = (),
        rows: int = 0,
    ) -> None:
        """Build the error from each failed row's error."""
        super().__init__(message, source=source)
        self.failures = failures
        self.rows = rows


class TruststoreBuilderWarning(UserWarning):
    """Base class of every warning truststore_builder issues."""


class ExpiredCertificateWarning(TruststoreBuilderWarning):
    """A certificate in a store has expired (or is not yet valid) at the validation time."""


class G1IdentityWarning(TruststoreBuilderWarning):
    """A G1 client certificate is being packaged because the caller allowed it."""


class JksIntegrityNotCheckedWarning(TruststoreBuilderWarning):
    """A JKS or JCEKS store was read without its password: its integrity digest is unchecked.

    keytool prints the same warning. Nothing proves the entries were not altered; give the
    password to check them.
    """


class NonAlphanumericPasswordWarning(TruststoreBuilderWarning):
    """A password holds characters other than ASCII letters and digits, where a client warns.

    NHS England's MESH client keeps its key store password in meshclient.cfg and advises
    letters and digits only: a '£' breaks a file not saved as UTF-8. The password itself is
    never shown.
    """


class DerDecodeError(Exception):
    """Bytes that are not the DER (or BER) a format module expects; internal, never raised out.

    ``_formats.asn1`` raises it; the format module reading the file catches it and raises the
    typed error that names the file (a :class:`MalformedInputError`, most often). It is not a
    ``ValueError``, so that a parse failure is never taken for a wrong password's garbage.
    """
