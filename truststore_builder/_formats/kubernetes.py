"""Kubernetes manifests: a TLS Secret, a trust bundle ConfigMap, an Opaque Secret; YAML by hand.

No YAML library is needed at run time: the manifests use a small, strict subset of YAML that
every YAML 1.1 and 1.2 reader (kubectl's, PyYAML) reads the same way:

- mappings indented by two spaces, keys in a fixed order;
- names, kinds and keys plain where no reader could take them for anything but that string
  (``mesh-client``, ``tls.crt``); every other string a double-quoted scalar in JSON's syntax
  (``"..."``), so that no value can be read as a number, a boolean or null (a name such as
  ``0755`` or a key such as ``yes`` stays a string);
- PEM text as a literal block scalar (``|``), one certificate line per line, readable in an
  editor and in ``kubectl get -o yaml``; text a literal block cannot hold exactly falls back to
  a quoted string.

What is written is read back by :func:`read_manifest`, a parser of exactly this subset,
separate from the writer (they share only the rule of which scalars may be plain), and compared
with what was meant before anyone writes a file.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING, NamedTuple

from truststore_builder._errors import CheckError, InvalidNameError, ReadBackError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "MAX_OBJECT_BYTES",
    "check_data_key",
    "check_namespace",
    "check_object_name",
    "configmap_manifest",
    "decode_data",
    "opaque_secret_manifest",
    "read_manifest",
    "tls_secret_manifest",
]

#: The most an object's data may hold: etcd refuses a Secret or ConfigMap over 1 MiB.
MAX_OBJECT_BYTES = 1024 * 1024

# Kubernetes' own rules (k8s.io/apimachinery/pkg/util/validation): a DNS-1123 subdomain for
# object names, a DNS-1123 label for namespaces, and IsConfigMapKey for data keys.
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_SUBDOMAIN_MAX = 253
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_MAX = 63
_DATA_KEY = re.compile(r"[-._a-zA-Z0-9]+")

#: Characters a literal block may hold as they are: printable ASCII (no tab, no DEL).
_LITERAL_LINE = re.compile(r"[ -~]*")
_INDENT = "  "


class _NameRule(NamedTuple):
    """One of Kubernetes' rules for a name: what it names, the rule, and what it allows."""

    what: str
    rule: str
    pattern: re.Pattern[str]
    longest: int
    allowed: str
    empty: frozenset[str] = frozenset({""})


_OBJECT_NAME = _NameRule(
    "Kubernetes object name",
    "RFC 1123 subdomain",
    _SUBDOMAIN,
    _SUBDOMAIN_MAX,
    "use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
)
_NAMESPACE = _NameRule(
    "Kubernetes namespace",
    "RFC 1123 label",
    _LABEL,
    _LABEL_MAX,
    "use lower-case letters, digits and '-', starting and ending with a letter or digit",
)
_KEY = _NameRule(
    "data key",
    "Secret or ConfigMap key",
    _DATA_KEY,
    _SUBDOMAIN_MAX,
    "use letters, digits, '-', '_' and '.'",
    frozenset({"", ".", ".."}),
)


def _checked(name: str, rule: _NameRule) -> str:
    """Return ``name`` if it keeps ``rule``; the refusal names the name (never secret) and rule.

    Raises:
        InvalidNameError: It does not.
    """
    if not isinstance(name, str) or name in rule.empty:
        detail = "it is empty" + (", '.' or '..'" if len(rule.empty) > 1 else "")
    elif len(name) > rule.longest:
        detail = f"it is longer than {rule.longest} characters"
    elif not rule.pattern.fullmatch(name):
        detail = rule.allowed
    else:
        return name
    msg = f"{rule.what} {str(name)!r} is not a valid {rule.rule}: {detail}"
    raise InvalidNameError(msg, name=str(name), rule=rule.rule)


def check_object_name(name: str) -> str:
    """Return ``name`` if Kubernetes takes it as a Secret's or ConfigMap's name.

    Raises:
        InvalidNameError: It is no RFC 1123 subdomain: lower-case letters, digits, ``-`` and
            ``.``, starting and ending with a letter or digit, at most 253 characters.
    """
    return _checked(name, _OBJECT_NAME)


def check_namespace(namespace: str) -> str:
    """Return ``namespace`` if Kubernetes takes it as a namespace's name.

    Raises:
        InvalidNameError: It is no RFC 1123 label: lower-case letters, digits and ``-``,
            starting and ending with a letter or digit, at most 63 characters.
    """
    return _checked(namespace, _NAMESPACE)


def check_data_key(key: str) -> str:
    """Return ``key`` if Kubernetes takes it as a key of a Secret's or ConfigMap's data.

    Raises:
        InvalidNameError: It is empty, ``.`` or ``..``, longer than 253 characters, or holds a
            character other than letters, digits, ``-``, ``_`` and ``.``.
    """
    return _checked(key, _KEY)


# --- Writing ----------------------------------------------------------------------------------


def _escaped(char: str) -> str:
    code = ord(char)
    if char in {'"', "\\"}:
        return "\\" + char
    if " " <= char <= "~":
        return char
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"  # noqa: PLR2004


def _quoted(text: str) -> str:
    r"""A double-quoted scalar; every character but printable ASCII escaped.

    ``\"`` and ``\\``, ``\uXXXX`` and, beyond the Basic Multilingual Plane, ``\UXXXXXXXX``
    (a surrogate pair of ``\u`` escapes, as JSON writes it, reads as two lone surrogates in
    PyYAML): the escapes YAML 1.1 and 1.2 both define.
    """
    return '"' + "".join(map(_escaped, text)) + '"'


def _fits_literal_block(text: str) -> bool:
    """Whether a literal block (``|``, clip) gives back exactly ``text``.

    It must end in exactly one line break (clip keeps one), hold printable ASCII lines without
    trailing blanks (editors strip them), and not start with a blank (which would need an
    indentation indicator).
    """
    if not text.endswith("\n") or text.endswith("\n\n") or text.startswith((" ", "\n")):
        return False
    lines = text[:-1].split("\n")
    return all(_LITERAL_LINE.fullmatch(line) and not line.endswith(" ") for line in lines)


def _scalar(text: str, depth: int) -> str:
    """``text`` as what follows ``key:`` at nesting ``depth``: a literal block, or quoted."""
    if _fits_literal_block(text):
        indent = _INDENT * (depth + 1)
        body = "".join(f"{indent}{line}\n" if line else "\n" for line in text[:-1].split("\n"))
        return " |\n" + body
    return f" {_quoted(text)}\n"


#: A manifest as the writer takes it: keys to text, or to a nested manifest.
_Tree = dict[str, "str | _Tree"]

#: A plain scalar every YAML reader takes as this very string: it starts with a letter, holds
#: no character YAML gives a meaning, and is none of YAML 1.1's booleans and nulls.
_PLAIN = re.compile(r"[A-Za-z][-._A-Za-z0-9/]*")
_NOT_PLAIN_WORDS = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off", "null"})
# The values written plain where they can be (names, kinds, types), as kubectl writes them;
# data values (base64, PEM) are always quoted or blocks.
_PLAIN_VALUE_KEYS = frozenset({"apiVersion", "kind", "type", "name", "namespace"})


def _is_plain(text: str) -> bool:
    return bool(_PLAIN.fullmatch(text)) and text.lower() not in _NOT_PLAIN_WORDS


def _render(tree: _Tree, depth: int = 0) -> str:
    lines = []
    for key, value in tree.items():
        label = key if _is_plain(key) else _quoted(key)
        prefix = f"{_INDENT * depth}{label}:"
        if isinstance(value, dict):
            lines.append(f"{prefix}\n{_render(value, depth + 1)}")
        elif key in _PLAIN_VALUE_KEYS and _is_plain(value):
            lines.append(f"{prefix} {value}\n")
        else:
            lines.append(prefix + _scalar(value, depth))
    return "".join(lines)


def _metadata(name: str, namespace: str | None) -> _Tree:
    metadata: _Tree = {"name": check_object_name(name)}
    if namespace is not None:
        metadata["namespace"] = check_namespace(namespace)
    return metadata


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _checked_keys(keys: list[str]) -> None:
    for key in keys:
        check_data_key(key)
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            msg = f"data key {key!r} is used twice in one object"
            raise InvalidNameError(msg, name=key, rule="unique keys")
        seen.add(key)


def _checked_size(name: str, sizes: int) -> None:
    if sizes > MAX_OBJECT_BYTES:
        msg = (
            f"Kubernetes object {name!r}: its data is {sizes} bytes, over the 1 MiB "
            "(1,048,576 bytes) Kubernetes stores in one Secret or ConfigMap"
        )
        raise CheckError(msg)


def tls_secret_manifest(
    name: str,
    namespace: str | None,
    *,
    certificate_chain: bytes,
    private_key: bytes,
    ca_bundle: bytes | None = None,
) -> bytes:
    """A Secret of type ``kubernetes.io/tls``, as ``kubectl create secret tls`` makes it.

    Args:
        name: The Secret's name (an RFC 1123 subdomain).
        namespace: Its namespace (an RFC 1123 label), or None to leave it to ``kubectl -n``.
        certificate_chain: ``tls.crt``: PEM, the certificate first, then its issuers.
        private_key: ``tls.key``: the unencrypted PEM private key of the first certificate.
        ca_bundle: ``ca.crt``: PEM CA certificates, or None to leave the key out.

    Returns:
        The manifest, YAML; the values base64 in ``data``, as the API server stores them.

    Raises:
        InvalidNameError: The name or namespace breaks Kubernetes' rules.
        CheckError: The data is over the 1 MiB Kubernetes stores in one object.
    """
    data: _Tree = {"tls.crt": _base64(certificate_chain), "tls.key": _base64(private_key)}
    if ca_bundle is not None:
        data["ca.crt"] = _base64(ca_bundle)
    _checked_size(name, sum(map(len, (certificate_chain, private_key, ca_bundle or b""))))
    tree: _Tree = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(name, namespace),
        "type": "kubernetes.io/tls",
        "data": data,
    }
    return _render(tree).encode("ascii")


def opaque_secret_manifest(name: str, namespace: str | None, data: Mapping[str, bytes]) -> bytes:
    """A Secret of type ``Opaque`` holding ``data`` (base64, as the API server stores it).

    Raises:
        InvalidNameError: The name, namespace or a key breaks Kubernetes' rules.
        CheckError: The data is over the 1 MiB Kubernetes stores in one object.
    """
    _checked_keys(list(data))
    _checked_size(name, sum(map(len, data.values())))
    tree: _Tree = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(name, namespace),
        "type": "Opaque",
        "data": {key: _base64(value) for key, value in data.items()},
    }
    return _render(tree).encode("ascii")


def configmap_manifest(
    name: str,
    namespace: str | None,
    *,
    text: Mapping[str, str],
    binary: Mapping[str, bytes] | None = None,
) -> bytes:
    """A ConfigMap: text files in ``data`` (PEM as literal blocks), the rest in ``binaryData``.

    This is the layout of cert-manager's trust-manager: the PEM bundle under one key of
    ``data``, a JKS and a PKCS#12 trust store under keys of ``binaryData``.

    Raises:
        InvalidNameError: The name, namespace or a key breaks Kubernetes' rules, or a key is
            in both ``text`` and ``binary``.
        CheckError: The data is over the 1 MiB Kubernetes stores in one object.
    """
    binary = binary or {}
    _checked_keys([*text, *binary])
    _checked_size(
        name, sum(len(v.encode()) for v in text.values()) + sum(map(len, binary.values()))
    )
    tree: _Tree = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _metadata(name, namespace)}
    if text:
        tree["data"] = dict(text)
    if binary:
        tree["binaryData"] = {key: _base64(value) for key, value in binary.items()}
    return _render(tree).encode("ascii")


# --- Reading back -----------------------------------------------------------------------------

#: A manifest as read back: keys to text, or to a nested manifest.
Manifest = dict[str, "str | Manifest"]

_KEY_LINE = re.compile(r'( *)("(?:[^"\\]|\\.)*"|[A-Za-z][-._A-Za-z0-9/]*):(?: (.*))?')


def _read_error(source: str, line_number: int, problem: str) -> ReadBackError:
    return ReadBackError(f"{source}: line {line_number}: {problem}; nothing was written")


def _literal_block(lines: list[str], index: int, indent: int) -> tuple[str, int]:
    """The literal block starting at ``lines[index]``, indented ``indent``; and the next index."""
    block_indent = " " * indent
    body = []
    while index < len(lines) - 1 and (lines[index] == "" or lines[index].startswith(block_indent)):
        body.append(lines[index].removeprefix(block_indent))
        index += 1
    while body and body[-1] == "":
        body.pop()  # clip: trailing blank lines are not content
    return "\n".join(body) + "\n" if body else "", index


_QUOTED = re.compile(r'"((?:[ !#-\[\]-~]|\\["\\]|\\u[0-9a-fA-F]{4}|\\U[0-9a-fA-F]{8})*)"')
_ESCAPE = re.compile(r'\\(["\\]|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})')


def _unescape(match: re.Match[str]) -> str:
    escape = match.group(1)
    return escape if len(escape) == 1 else chr(int(escape[1:], 16))


def _quoted_value(value: str) -> str | None:
    """A plain or double-quoted scalar's text, or None if ``value`` is neither."""
    if _is_plain(value):
        return value
    match = _QUOTED.fullmatch(value)
    if match is None:
        return None
    try:
        return _ESCAPE.sub(_unescape, match.group(1))
    except ValueError:  # a \U escape beyond U+10FFFF
        return None


def read_manifest(data: bytes, source: str = "<manifest>") -> Manifest:
    """Read a manifest this module wrote: the subset of YAML it writes, and nothing more.

    Args:
        data: The manifest's bytes.
        source: How messages name it.

    Returns:
        Nested mappings of text.

    Raises:
        ReadBackError: Anything outside the subset: a tab, a bad indent, a flow collection, a
            plain scalar, a duplicate key, text that is not ASCII.
    """
    try:
        lines = data.decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise _read_error(source, 0, "is not ASCII") from None
    if lines[-1] != "":
        raise _read_error(source, len(lines), "does not end with a line break")
    root: Manifest = {}
    stack: list[tuple[int, Manifest]] = [(0, root)]
    index = 0
    while index < len(lines) - 1:
        match = _KEY_LINE.fullmatch(lines[index])
        index += 1
        if match is None:
            raise _read_error(source, index, "is not a 'key: value' line")
        indent, key_text, value = len(match.group(1)), match.group(2), match.group(3)
        while len(stack) > 1 and indent < stack[-1][0]:
            stack.pop()
        key = _quoted_value(key_text)
        mapping = stack[-1][1]
        if indent != stack[-1][0] or key is None or key in mapping:
            raise _read_error(source, index, "is indented wrongly, or repeats or breaks a key")
        if value is None:
            child: Manifest = {}
            mapping[key] = child
            stack.append((indent + len(_INDENT), child))
            continue
        text: str | None
        if value == "|":
            text, index = _literal_block(lines, index, indent + len(_INDENT))
        else:
            text = _quoted_value(value)
        if text is None or (value == "|" and not text):
            raise _read_error(source, index, "holds a value that is neither quoted nor a block")
        mapping[key] = text
    return root


def decode_data(manifest: Manifest, section: str, source: str) -> dict[str, bytes]:
    """The base64 values under ``section`` (``data`` of a Secret, ``binaryData``), decoded.

    Raises:
        ReadBackError: The section is missing or not a mapping, or a value is not base64.
    """
    values = manifest.get(section)
    if not isinstance(values, dict):
        msg = f"{source}: has no {section} mapping; nothing was written"
        raise ReadBackError(msg)
    decoded = {}
    for key, value in values.items():
        try:
            decoded[key] = base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            msg = f"{source}: {section}.{key} is not base64; nothing was written"
            raise ReadBackError(msg) from None
    return decoded
