"""docs/compatibility.md's consumer matrix is the one tests/test_consumer_matrix.py asserts."""

from __future__ import annotations

from tests.consumers import matrix


def test_compatibility_doc_is_generated_from_the_matrix() -> None:
    """The doc's matrix is rendered from the matrix's declarations (regenerate: python -m tests.consumers.matrix)."""
    text = matrix.DOC.read_text(encoding="utf-8")
    assert matrix.rendered_doc(text) == text, "stale: run python -m tests.consumers.matrix"


def test_every_cell_names_a_result() -> None:
    """Each declared cell is "works" or a consumer's limit that names a file made by OpenSSL too."""
    for consumer in matrix.CONSUMERS:
        for kind, result in consumer.cells.items():
            assert result == matrix.WORKS or "OpenSSL" in result, (consumer.key, kind)
