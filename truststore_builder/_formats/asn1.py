"""ASN.1 tags and lengths: the one reader and writer of DER elements every format module uses.

An element is a tag, a length and that many bytes of content. DER writes the length in its
shortest form (one byte below 128, else ``0x80 | n`` and ``n`` big-endian bytes). Readers here
take at most four length bytes (4 GiB: more is no file anyone sends); :func:`read_element` also
takes BER's indefinite length on a constructed element (``0x80``, content up to two zero
bytes), which older PKCS#12 writers use. Nothing here knows what a certificate, a PFX or a key
is: the format modules say which tags they expect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from truststore_builder._errors import DerDecodeError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "BIT_STRING",
    "BMP_STRING",
    "CONSTRUCTED",
    "CONTEXT_0",
    "CONTEXT_0_PRIMITIVE",
    "HIGH_TAG_NUMBER",
    "INTEGER",
    "LONG_FORM",
    "MAX_NESTING",
    "NULL",
    "OCTET_STRING",
    "OID",
    "SEQUENCE",
    "SET",
    "UTF8_STRING",
    "Der",
    "DerCursor",
    "children",
    "encode_header",
    "encode_tlv",
    "expect",
    "iter_children",
    "oid_content",
    "oid_dotted",
    "read_element",
    "read_header",
]

# Universal tags, and the context-specific [0] that PKCS#12 and X.509 use.
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
UTF8_STRING = 0x0C
BMP_STRING = 0x1E
SEQUENCE = 0x30
SET = 0x31
CONTEXT_0 = 0xA0
CONTEXT_0_PRIMITIVE = 0x80
#: A first length octet from here on is the count of length octets that follow.
LONG_FORM = 0x80
#: Low tag bits all set: a tag number in further octets, which none of our formats uses.
HIGH_TAG_NUMBER = 0x1F
CONSTRUCTED = 0x20
#: Four length bytes allow 4 GiB.
_MAX_LENGTH_BYTES = 4
#: How deep BER indefinite lengths may nest in a file we read.
MAX_NESTING = 16

#: What the reader takes: bytes, or a memoryview where a slice must not copy (a store's
#: SafeContents may be tens of megabytes, nested four deep). Slices are of the same type.
Der = TypeVar("Der", bytes, memoryview)


# --- writing --------------------------------------------------------------------------------


def encode_header(tag: int, length: int) -> bytes:
    """A DER element's tag and definite, shortest length, for ``length`` bytes of content."""
    if length < LONG_FORM:
        return bytes([tag, length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, LONG_FORM | len(octets)]) + octets


def encode_tlv(tag: int, content: bytes) -> bytes:
    """One DER element: tag, definite shortest length, content."""
    return encode_header(tag, len(content)) + content


def oid_content(dotted: str) -> bytes:
    """Encode a dotted object identifier as the content octets of a DER OID."""
    arcs = [int(arc) for arc in dotted.split(".")]
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        body.extend(reversed(chunk))
    return bytes(body)


# --- reading --------------------------------------------------------------------------------


def oid_dotted(content: bytes | memoryview) -> str:
    """Decode the content octets of a DER OID into dotted form, for messages."""
    arcs: list[int] = []
    value = 0
    for octet in content:
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    if not arcs:
        return "<empty OID>"
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first, *arcs[1:]])


def read_header(data: bytes | memoryview, offset: int = 0) -> tuple[int, int, int] | None:
    """Read the tag and length of the DER element starting at ``offset``.

    Args:
        data: DER bytes.
        offset: Where the element starts.

    Returns:
        ``(tag, header_length, content_length)``, or None when the header itself is cut short
        or is not a definite DER length. The content is not checked against ``data``.
    """
    if offset + 2 > len(data):
        return None
    tag, first = data[offset], data[offset + 1]
    if first < LONG_FORM:
        return tag, 2, first
    count = first & 0x7F
    # 0x80 alone is BER's indefinite length, never DER.
    if count == 0 or count > _MAX_LENGTH_BYTES or offset + 2 + count > len(data):
        return None
    return tag, 2 + count, int.from_bytes(data[offset + 2 : offset + 2 + count], "big")


def read_element(data: Der, offset: int = 0, depth: int = 0) -> tuple[int, Der, int]:
    """Read the element at ``offset``, taking BER's indefinite length on a constructed one.

    A constructed element with an indefinite length (older writers use it) has content that
    runs to the end-of-contents marker, which is not part of it.

    Returns:
        ``(tag, content, offset just past the element)``.

    Raises:
        DerDecodeError: Cut short, a multi-byte tag, a bad length, or indefinite lengths
            nested more than :data:`MAX_NESTING` deep.
    """
    if offset + 2 > len(data):
        msg = f"an element is cut short at byte {offset}"
        raise DerDecodeError(msg)
    tag, first = data[offset], data[offset + 1]
    if tag & HIGH_TAG_NUMBER == HIGH_TAG_NUMBER:
        msg = f"unexpected multi-byte tag at byte {offset}"
        raise DerDecodeError(msg)
    if first == LONG_FORM and tag & CONSTRUCTED:
        if depth >= MAX_NESTING:
            msg = f"indefinite lengths nested more than {MAX_NESTING} deep at byte {offset}"
            raise DerDecodeError(msg)
        start = position = offset + 2
        while bytes(data[position : position + 2]) != b"\0\0":
            _tag, _content, position = read_element(data, position, depth + 1)
        return tag, data[start:position], position + 2
    header = read_header(data, offset)
    if header is None:
        msg = f"bad length at byte {offset}"
        raise DerDecodeError(msg)
    _, header_length, length = header
    start = offset + header_length
    end = start + length
    if end > len(data):
        msg = f"an element at byte {offset} claims {length} bytes, {len(data) - start} remain"
        raise DerDecodeError(msg)
    return tag, data[start:end], end


def children(content: Der) -> list[tuple[int, Der]]:
    """Split a constructed element's content into ``(tag, content)`` pairs.

    Raises:
        DerDecodeError: An element does not read (see :func:`read_element`).
    """
    return list(iter_children(content))


def iter_children(content: Der) -> Iterator[tuple[int, Der]]:
    """The ``(tag, content)`` pairs of a constructed element's content, one at a time.

    One at a time, so that a SafeContents of 100,000 bags is walked without a list of them all.

    Raises:
        DerDecodeError: An element does not read (see :func:`read_element`).
    """
    offset = 0
    size = len(content)
    while offset < size:
        # read_element inlined for the well-formed case (a bag is a dozen elements; a store,
        # 100,000 bags); anything else goes to read_element, which says what is wrong.
        if offset + 2 <= size and content[offset] & HIGH_TAG_NUMBER != HIGH_TAG_NUMBER:
            start = offset + 2
            length = content[offset + 1]
            if length >= LONG_FORM:
                count = length - LONG_FORM
                length = -1
                if 0 < count <= _MAX_LENGTH_BYTES and start + count <= size:
                    length = int.from_bytes(content[start : start + count], "big")
                    start += count
            end = start + length
            if length >= 0 and end <= size:
                yield content[offset], content[start:end]
                offset = end
                continue
        tag, value, offset = read_element(content, offset)
        yield tag, value


def expect(item: tuple[int, Der], tag: int, what: str) -> Der:
    """The content of ``item``, a ``(tag, content)`` pair, which must carry ``tag``.

    Raises:
        DerDecodeError: Another tag.
    """
    if item[0] != tag:
        msg = f"{what}: expected tag 0x{tag:02x}, found 0x{item[0]:02x}"
        raise DerDecodeError(msg)
    return item[1]


class DerCursor:
    """Strict DER read in order, element after element (definite lengths only)."""

    def __init__(self, data: bytes) -> None:
        """Start at the beginning of ``data``."""
        self.data = data
        self.pos = 0

    def read(self, tag: int) -> bytes:
        """Return the content of the next element, which must carry ``tag``.

        Raises:
            DerDecodeError: Another tag, an indefinite or overlong length, or truncation.
        """
        header = read_header(self.data, self.pos)
        if header is None or header[0] != tag:
            msg = f"expected a DER element with tag 0x{tag:02x} at byte {self.pos}"
            raise DerDecodeError(msg)
        _, header_length, length = header
        start = self.pos + header_length
        end = start + length
        if end > len(self.data):
            msg = f"truncated DER at byte {self.pos}"
            raise DerDecodeError(msg)
        self.pos = end
        return self.data[start:end]

    def rest(self) -> bytes:
        """Everything not read yet."""
        return self.data[self.pos :]
