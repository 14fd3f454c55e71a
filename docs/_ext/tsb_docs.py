# ruff: noqa: INP001  (docs/_ext holds Sphinx extensions, not a package)
"""Local Sphinx directives that generate pages from the project's own sources at build time.

- ``nhs-catalogue``: a table of every CA in ``bundles/manifest.toml`` (with ``:retired:``, of
  its retired CAs).
- ``cli-help``: the ``--help`` text of ``truststore-builder`` or one of its subcommands, from
  ``truststore_builder._cli.build_parser()``, so the reference cannot drift from the parser.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

from truststore_builder._cli import build_parser

if TYPE_CHECKING:
    from sphinx.application import Sphinx

MANIFEST = Path(__file__).resolve().parents[2] / "bundles" / "manifest.toml"
HELP_WIDTH = "88"


def _table(header: list[str], rows: list[list[nodes.Node]], widths: list[int]) -> nodes.table:
    table = nodes.table()
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for text in header:
        row += nodes.entry("", nodes.paragraph(text=text))
    head += row
    body = nodes.tbody()
    group += body
    for cells in rows:
        row = nodes.row()
        for cell in cells:
            row += nodes.entry("", nodes.paragraph("", "", cell))
        body += row
    return table


class NhsCatalogueDirective(SphinxDirective):
    """Render bundles/manifest.toml as a table."""

    has_content = False
    option_spec = {"retired": directives.flag}  # noqa: RUF012  (docutils' own attribute)

    def run(self) -> list[nodes.Node]:
        """The table, one row per CA in manifest order."""
        self.env.note_dependency(str(MANIFEST))
        manifest = tomllib.loads(MANIFEST.read_text(encoding="utf-8"))
        if "retired" in self.options:
            return [self._retired(manifest["retired"])]
        rows: list[list[nodes.Node]] = []
        for ca in manifest["ca"]:
            pin = ("SHA-256", ca["sha256"]) if "sha256" in ca else ("SHA-1", ca["sha1"])
            fingerprint = f"{pin[0]} {pin[1]}"
            rows.append(
                [
                    nodes.literal(text=ca["slug"]),
                    nodes.Text(ca["name"]),
                    nodes.Text(", ".join(ca["environments"])),
                    nodes.Text(ca["generation"].upper()),
                    nodes.Text(f"{ca['role']} ({ca['purpose']})"),
                    nodes.literal(text=fingerprint),
                    nodes.Text("shipped" if "file" in ca else "pinned only"),
                ]
            )
        header = ["Alias", "Name", "Environments", "Gen.", "Role", "Pinned fingerprint", "File"]
        return [_table(header, rows, [14, 14, 10, 5, 12, 30, 8])]

    @staticmethod
    def _retired(retired: list[dict[str, Any]]) -> nodes.table:
        rows: list[list[nodes.Node]] = [
            [
                nodes.literal(text=ca["slug"]),
                nodes.Text(ca["name"]),
                nodes.Text(ca["expired"].isoformat()),
                nodes.Text(ca["why"]),
                nodes.literal(text=f"SHA-256 {ca['sha256']}"),
            ]
            for ca in retired
        ]
        header = ["Alias", "Name", "Expired", "Why it can go", "Pinned fingerprint"]
        return _table(header, rows, [14, 14, 8, 20, 30])


def _subparser(parser: argparse.ArgumentParser, words: list[str]) -> argparse.ArgumentParser:
    for word in words:
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
        if not actions or word not in actions[0].choices:
            msg = f"cli-help: no subcommand {word!r} under {parser.prog!r}"
            raise ValueError(msg)
        parser = actions[0].choices[word]
    return parser


class CliHelpDirective(SphinxDirective):
    """Render ``truststore-builder [SUBCOMMAND ...] --help`` as a literal block."""

    optional_arguments = 10
    has_content = False

    def run(self) -> list[nodes.Node]:
        """The help text as a literal block."""
        parser = _subparser(build_parser(), list(self.arguments))
        saved = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = HELP_WIDTH  # argparse wraps to the terminal: fix it
        try:
            text = parser.format_help()
        finally:
            if saved is None:
                del os.environ["COLUMNS"]
            else:
                os.environ["COLUMNS"] = saved
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


def _commands(
    parser: argparse.ArgumentParser, words: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every leaf subcommand under ``parser``, depth first, in the parser's own order."""
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
    if not actions:
        return [(words, parser)]
    found = []
    for word, child in actions[0].choices.items():
        found += _commands(child, (*words, word))
    return found


class CliReferenceDirective(SphinxDirective):
    """A section with the help text of every subcommand, so no command can be left out."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        """One section per subcommand, titled with its command line."""
        sections: list[nodes.Node] = []
        saved = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = HELP_WIDTH
        try:
            for words, parser in _commands(build_parser()):
                title = " ".join(("truststore-builder", *words))
                section = nodes.section(ids=[nodes.make_id(title)])
                section += nodes.title(title, title)
                text = parser.format_help()
                block = nodes.literal_block(text, text)
                block["language"] = "text"
                section += block
                sections.append(section)
        finally:
            if saved is None:
                del os.environ["COLUMNS"]
            else:
                os.environ["COLUMNS"] = saved
        return sections


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives."""
    app.add_directive("nhs-catalogue", NhsCatalogueDirective)
    app.add_directive("cli-help", CliHelpDirective)
    app.add_directive("cli-reference", CliReferenceDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
