"""The compatibility shims of lrux 0.1 warn, and say when they go (lrux 0.2)."""

import importlib
import sys

import numpy as np
import pytest

from lrux.data import Batch


@pytest.mark.parametrize("module", ["lrux.data.loaders", "lrux.data.pipeline"])
def test_old_data_modules_warn_on_import(module):
    sys.modules.pop(module, None)
    with pytest.warns(DeprecationWarning, match="goes in lrux 0.2"):
        old = importlib.import_module(module)
    assert callable(old.load_split if module.endswith("loaders") else old.finish_batch)


def test_dict_style_batch_access_warns_and_still_works():
    b = Batch(np.zeros((2, 3), np.int32), np.full(2, 3, np.int32), np.zeros(2, np.int32),
              np.ones(2, bool))
    with pytest.warns(DeprecationWarning, match=r"batch\['inputs'\].*lrux 0.2.*batch.inputs"):
        assert b["inputs"] is b.inputs
    assert b[3] is b.valid  # tuple indexing is not deprecated


def test_preset_preset_is_gone():
    from lrux.presets import get_preset

    assert not hasattr(get_preset("listops", "lru", "smoke"), "preset")
