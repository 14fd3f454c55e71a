"""The example notebook in docs/ runs, top to bottom, in a real Jupyter kernel: it cannot rot.

The kernel is ipykernel's ``python3``, which jupyter_client runs with this interpreter (the one
the package is installed in), from the kernel spec ipykernel installs beside it: nothing is
installed into the user's home.
"""

from __future__ import annotations

from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "examples" / "rebuild-a-g1-store.ipynb"
G2_ALIASES = ("nhs-ptl-root-authority-g2", "nhs-int-authentication-g2")
PASSWORD = "notebook-Secret-7361"


def _outputs_text(cell: nbformat.NotebookNode) -> str:
    """Everything a code cell showed: streams, plain text and HTML results, tracebacks."""
    parts: list[str] = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif output["output_type"] == "error":
            parts.extend(output["traceback"])
        else:
            data = output.get("data", {})
            parts.extend(str(data[kind]) for kind in ("text/plain", "text/html") if kind in data)
    return "\n".join(parts)


def test_committed_notebook_has_no_outputs() -> None:
    """The notebook is committed clean: valid, no outputs, no execution counts."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == []
            assert cell.execution_count is None


@pytest.mark.slow
def test_notebook_rebuilds_a_g1_store_with_g2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every cell runs; the diff adds the two INT G2 CAs; stores show as HTML; no password shown."""
    work = tmp_path / "cwd"
    scratch = tmp_path / "tmp"
    work.mkdir()
    scratch.mkdir()
    monkeypatch.setenv("TRUSTSTORE_PASSWORD", PASSWORD)
    monkeypatch.setenv("TMPDIR", str(scratch))  # the notebook's tempfile.mkdtemp() lands here
    notebook = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=180,
        resources={"metadata": {"path": str(work)}},
    )
    client.execute()

    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    texts = [_outputs_text(cell) for cell in code_cells]
    assert any(
        all(f"'{alias}'" in text for alias in G2_ALIASES) and "level-1c" not in text
        for text in texts
    ), "no cell listed exactly the added G2 aliases"
    html = [
        output["data"]["text/html"]
        for cell in code_cells
        for output in cell.outputs
        if "text/html" in output.get("data", {})
    ]
    assert len(html) >= 2, "the old and new stores should render as HTML tables"
    assert all("<table" in page for page in html)
    assert any(all(alias in page for alias in G2_ALIASES) for page in html)
    assert not any(PASSWORD in text for text in texts)

    (written,) = scratch.glob("rebuild-g1-store-*")
    assert {path.name for path in written.iterdir()} == {"old.jks", "new.jks"}
