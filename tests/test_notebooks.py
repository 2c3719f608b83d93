"""The course notebooks (notebooks/NN_*.py, jupytext percent format, paired with .ipynb):
the pairs are in sync and committed without outputs, and every notebook runs top to bottom
(small sizes: LRUX_NOTEBOOK_SMALL=1) with two seeds (LRUX_COURSE_SEED=0 and 1): every claim
of its text checked in a cell holds (`course.claims` raises otherwise), every live figure's
plotted data (its pixels with the texts hidden) change at other slider values, and every
exercise's reference solution passes its check."""

import json
import os
import pathlib
import warnings

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
jupytext = pytest.importorskip("jupytext")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")
pytest.importorskip("ipywidgets")

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
NAMES = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.py"))
CELL_TIMEOUT = 300  # seconds per cell; a cell that hangs past it is retried once (below)


def _cells(nb):
    return [
        (c.cell_type, c.source, sorted(c.metadata.get("tags", [])),
         c.metadata.get("jupyter", {}).get("source_hidden", False))
        for c in nb.cells
    ]


def test_every_notebook_is_a_jupytext_pair_in_sync():
    assert len(NAMES) >= 5, NAMES
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == NAMES, "an .ipynb without a .py"
    for name in NAMES:
        source = jupytext.read(NOTEBOOKS / f"{name}.py")
        committed = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        assert _cells(source) == _cells(committed), (
            f"{name}.ipynb differs from {name}.py: run `jupytext --sync notebooks/{name}.py`")
        for cell in committed.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, (
                    f"{name}.ipynb is committed with outputs: clear them")


def _kernel_name() -> str:
    """The python3 kernel, registered for this interpreter if no spec exists."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        from ipykernel.kernelspec import install

        install(user=True, kernel_name="python3")
    return "python3"


PROBE = "import course, json\nprint('LIVE ' + json.dumps(course.exercise_live_figures()))"


def _execute(name: str):
    """Run the notebook (plus a cell that redraws every live figure) in notebooks/."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)  # what a student opens
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name=_kernel_name(),
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    try:
        client.execute()
    except nbclient.exceptions.CellTimeoutError as e:  # jupyter/nbclient#312-like stall
        warnings.warn(f"{name}: a cell timed out after {CELL_TIMEOUT} s ({e}); retrying once",
                      stacklevel=1)
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(PROBE))
        nbclient.NotebookClient(
            nb, timeout=CELL_TIMEOUT, kernel_name=_kernel_name(),
            resources={"metadata": {"path": str(NOTEBOOKS)}},
        ).execute()
    return nb


SEEDS = (0, 1)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name, seed, monkeypatch):
    monkeypatch.setenv("LRUX_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("LRUX_COURSE_SEED", str(seed))
    # Live figures are drawn as plain images (no widget comms: the browser test covers the
    # widgets); the probe cell redraws each at its other slider values.
    monkeypatch.setenv("LRUX_NOTEBOOK_STATIC", "1")
    monkeypatch.delenv("LRUX_HIDE_SOLUTIONS", raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend renders PNGs
    monkeypatch.setenv("JAX_PLATFORMS", os.environ.get("JAX_PLATFORMS", "cpu"))
    nb = _execute(name)

    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    errors = [out for out in outputs if out.get("output_type") == "error"]
    assert not errors, [(e.get("ename"), e.get("evalue")) for e in errors]
    assert any("image/png" in out.get("data", {}) for out in outputs), f"{name} drew no figure"
    text = "".join(out.get("text", "") for out in outputs if out.get("output_type") == "stream")

    live = json.loads(text.split("LIVE ", 1)[1])
    for figure, report in live.items():
        unchanged = [k for k, changed in report["changed"].items() if not changed]
        assert report["changed"] and not unchanged, f"{name}/{figure}: same figure for {unchanged}"
        retitled = [k for k, changed in report["data_changed"].items() if not changed]
        assert not retitled, f"{name}/{figure}: only the texts change for {retitled}"

    # the text's numbers are checked in the notebook, for this seed
    checked = [line for line in text.splitlines() if line.startswith("checked: the ")]
    assert checked and all(f"(seed {seed})" in line for line in checked), (name, checked)

    solutions = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    for cell in solutions:  # every reference solution passes its check
        said = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
        assert ": correct." in said, (name, cell.source, said)
