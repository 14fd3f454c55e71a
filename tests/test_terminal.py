r"""Certificate text written for people cannot drive a terminal: one escaping table writer.

A CA's subject is attacker-chosen. One holding ESC sequences, a carriage return or a
right-to-left override must come out of every command and every ``str()`` as visible
escapes (``\x1b[31m``), never as the raw characters that recolour the terminal, move the
cursor or rewrite the line before.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest

from tests.pki import _name, make_certificate, rsa_key
from truststore_builder import TrustStoreBuilder, read_store
from truststore_builder._cli import main
from truststore_builder._report import aligned_lines, text_table
from truststore_builder.diff import diff_stores

if TYPE_CHECKING:
    from pathlib import Path

    from tests.pki import GeneratedPki

#: A common name that would turn the terminal red, return to the line's start and overwrite it,
#: then reverse what follows.
HOSTILE_CN = "Evil\x1b[31mRed\rOverwritten\u202eesrever\x07"
RAW = ("\x1b", "\r", "\u202e", "\x07")
ESCAPED = ("\\x1b[31m", "\\r", "\\u202e", "\\x07")


def _assert_escaped(text: str, where: str) -> None:
    """No raw control character but newline; the hostile name shown, escaped."""
    for char in RAW:
        assert char not in text, f"a raw {char!r} in {where}"
    for escape in ESCAPED:
        assert escape in text, f"{escape} missing from {where}: the name was not shown at all"


@pytest.fixture
def hostile_files(pki: GeneratedPki, tmp_path: Path) -> dict[str, Path]:
    """A hostile CA, one expired, a store holding it and one without it, and a non-CA leaf."""
    now = dt.datetime.now(dt.UTC)
    ca = make_certificate(_name(HOSTILE_CN), rsa_key(), ca=True)
    expired = make_certificate(
        _name(HOSTILE_CN + " old"),
        rsa_key(),
        ca=True,
        not_before=now - dt.timedelta(days=400),
        not_after=now - dt.timedelta(days=5),
    )
    leaf = make_certificate(_name(HOSTILE_CN, ou="leaf"), rsa_key(), issuer=ca, ca=False)
    files = {
        "ca": tmp_path / "hostile.pem",
        "expired": tmp_path / "expired.pem",
        "leaf": tmp_path / "leaf.pem",
        "plain": tmp_path / "plain.pem",
    }
    files["ca"].write_bytes(ca.cert_pem())
    files["expired"].write_bytes(expired.cert_pem())
    files["leaf"].write_bytes(leaf.cert_pem())
    files["plain"].write_bytes(pki.g2.root.cert_pem())
    return files


def test_the_hazard_is_real(hostile_files: dict[str, Path]) -> None:
    """The control: the certificate's own subject text carries the raw control characters."""
    (entry,) = read_store(hostile_files["ca"])
    subject = entry.certificate.subject.rfc4514_string()
    assert all(char in subject for char in RAW)


def test_every_command_escapes_certificate_text(
    hostile_files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """inspect, diff, verify, build (its warnings) and a refusal naming the CA: all escaped."""
    ca, expired, leaf, plain = (str(hostile_files[k]) for k in ("ca", "expired", "leaf", "plain"))
    runs = {
        "inspect": ["inspect", ca],
        "diff": ["diff", plain, ca],
        "diff --all": ["diff", ca, ca, "--all"],
        "verify": ["verify", leaf, "--trust", ca],
        "build (expired warning)": [
            "build", "--env", "int", "--add", expired, "--out", str(tmp_path / "b"),
            "--formats", "pem",
        ],
        "build (a leaf refused)": [
            "build", "--env", "int", "--add", leaf, "--out", str(tmp_path / "c"),
            "--formats", "pem",
        ],
    }  # fmt: skip
    for name, argv in runs.items():
        main(argv)
        captured = capsys.readouterr()
        _assert_escaped(captured.out + captured.err, name)


def test_every_python_text_escapes_certificate_text(hostile_files: dict[str, Path]) -> None:
    """str() and repr() of a store, an entry, a diff and its horizon; HTML escapes too."""
    store = TrustStoreBuilder().add_file(hostile_files["ca"]).build()
    diff = diff_stores(hostile_files["plain"], hostile_files["ca"])
    texts = {
        "str(TrustStore)": str(store),
        "str(TrustedEntry)": str(store.entries[0]),
        "repr(TrustedEntry)": repr(store.entries[0]),
        "str(StoreDiff)": str(diff),
        "StoreDiff HTML": diff._repr_html_(),
        "TrustStore HTML": store._repr_html_(),
    }
    for name, text in texts.items():
        for char in RAW:
            assert char not in text, f"a raw {char!r} in {name}"
    for name in ("str(TrustStore)", "str(StoreDiff)", "str(TrustedEntry)"):
        _assert_escaped(texts[name], name)


def test_one_writer_lays_out_every_table() -> None:
    """aligned_lines escapes every cell and pads by the escaped width; text_table builds on it."""
    lines = aligned_lines([["a\x1b", "b"], ["long-cell", "c\r"]])
    assert lines == ["a\\x1b      b", "long-cell  c\\r"]
    table = text_table(["h"], [["x\x1b[2J"]], title="t\r")
    assert table == "t\\r\nh\n-\nx\\x1b[2J"


def test_a_newline_in_a_subject_cannot_forge_a_wrote_line(
    pki: GeneratedPki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r"""Build's "wrote FILE (...)" lines: one per file, a subject's newline shown as ``\n``.

    The client's subject is quoted in the line of each client file; a newline in it made a
    line of its own ("wrote /etc/passwd (pem)") before. The control: without --cert, the same
    build prints exactly its files' lines too.
    """
    forged = "wrote /etc/passwd (pem, 1 certificates, read back ok)"
    client = make_certificate(
        _name(f"evil\n{forged}", ou="Devices"), rsa_key(), issuer=pki.g2.intermediate, ca=False
    )
    (tmp_path / "client.pem").write_bytes(client.cert_pem() + pki.g2.intermediate.cert_pem())
    (tmp_path / "client-key.pem").write_bytes(client.key_pem())
    (tmp_path / "cas.pem").write_bytes(pki.g2.root.cert_pem() + pki.g2.intermediate.cert_pem())
    for identity in (False, True):
        out = tmp_path / f"out-{identity}"
        argv = [
            "build", "--env", "int", "--add", str(tmp_path / "cas.pem"), "--out", str(out),
            "--formats", "pem,k8s-tls-secret" if identity else "pem",
        ]  # fmt: skip
        if identity:
            argv += ["--cert", str(tmp_path / "client.pem")]
            argv += ["--key", str(tmp_path / "client-key.pem")]
        assert main(argv) == 0
        lines = capsys.readouterr().out.splitlines()
        written = sorted(str(path) for path in out.rglob("*") if path.is_file())
        assert sorted(line.split(" ")[1] for line in lines if line.startswith("wrote ")) == written
        assert not any(line.startswith(forged) for line in lines)
        assert all(line.startswith("wrote ") for line in lines)
        assert ("CN=evil\\nwrote /etc/passwd (pem" in "\n".join(lines)) is identity
