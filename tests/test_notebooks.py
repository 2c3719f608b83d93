"""Every notebook runs top to bottom (tiny sizes: LRUX_NOTEBOOK_SMALL=1) and is committed
exactly as notebooks/build_notebooks.py writes it, without outputs."""

import os
import pathlib
import sys

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")
pytest.importorskip("ipywidgets")

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
sys.path.insert(0, str(NOTEBOOKS))
import build_notebooks  # noqa: E402

NAMES = sorted(build_notebooks.NOTEBOOKS)


def _kernel_name() -> str:
    """The python3 kernel, registered for this interpreter if no spec exists."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        from ipykernel.kernelspec import install

        install(user=True, kernel_name="python3")
    return "python3"


def test_notebooks_are_regenerable_and_have_no_outputs():
    assert NAMES == sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    for name in NAMES:
        text = (NOTEBOOKS / name).read_text()
        assert text == build_notebooks.render(name), f"{name} is stale: run build_notebooks.py"
        nb = nbformat.reads(text, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, name
        assert "RESULTS_TEXT" not in text


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, monkeypatch, tmp_path):
    monkeypatch.setenv("LRUX_NOTEBOOK_SMALL", "1")
    # The kernel's inline backend renders with Agg and records the figures as PNG outputs.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    monkeypatch.setenv("JAX_PLATFORMS", os.environ.get("JAX_PLATFORMS", "cpu"))
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=300,
        kernel_name=_kernel_name(),
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    # ipywidgets `interact` draws into Output widgets: their outputs are in the widget state.
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    for model in state.get("state", {}).values():
        outputs += model.get("state", {}).get("outputs", [])
    errors = [out for out in outputs if out.get("output_type") == "error"]
    assert not errors, [(e.get("ename"), e.get("evalue")) for e in errors]
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert images, f"{name} drew no figure"
