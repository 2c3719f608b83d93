"""The test run checks lrux's jaxtyping annotations at runtime (pytest --jaxtyping-packages)."""

import jax.numpy as jnp
import pytest

from lrux.layers.lru import diagonal_recurrence


def test_shape_annotations_are_enforced():
    """B's d_model (3) disagrees with x's (4): only the jaxtyping check can catch this."""
    n, h = 2, 3
    with pytest.raises(TypeError, match="d_model"):
        diagonal_recurrence(
            jnp.zeros((5, 4)),
            jnp.zeros(n),
            jnp.zeros(n),
            None,
            jnp.zeros((n, h)),
            jnp.zeros((n, h)),
            jnp.zeros((h, n)),
            jnp.zeros((h, n)),
            jnp.zeros(h),
        )


USER_SCRIPT = '''
import jax.numpy as jnp
from lrux.train import Run, load_model, load_run

model, state = load_model("runs/listops")
logits, state = model(jnp.zeros(8, jnp.int32), jnp.asarray(8), state, inference=True)
reveal_type(model)
run: Run = load_run("runs/listops", "last")
reveal_type(run.model)
reveal_type(run.preset.lr)
reveal_type(run.spec.num_classes)
out, _ = run.model(jnp.zeros(8, jnp.int32), jnp.asarray(8), run.state, inference=True)
'''


@pytest.mark.slow
def test_a_loaded_model_is_callable_in_a_type_checker(tmp_path):
    """pyright (standard mode, what editors run) sees `load_model` / `load_run` return the
    model's own type: calling it type-checks, and a wrong call is an error."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    if shutil.which("pyright") is None:
        pytest.skip("pyright is not installed (the dev extra)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(
        {"typeCheckingMode": "standard", "extraPaths": [root], "pythonVersion": "3.11"}))
    (tmp_path / "user.py").write_text(USER_SCRIPT)
    (tmp_path / "wrong.py").write_text(
        "from lrux.train import load_model\nmodel, state = load_model('r')\nmodel(state)\n")

    def pyright(name):
        return subprocess.run(["pyright", "--pythonpath", sys.executable, name],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300).stdout

    out = pyright("user.py")
    assert "0 errors" in out, out
    assert 'Type of "model" is "Classifier | RetrievalDualEncoder"' in out
    assert 'Type of "run.model" is "Classifier | RetrievalDualEncoder"' in out
    assert 'Type of "run.preset.lr" is "float"' in out
    assert 'Type of "run.spec.num_classes" is "int"' in out
    wrong = pyright("wrong.py")
    assert "0 errors" not in wrong and "error" in wrong, wrong  # a wrong call is caught
