"""Old name of `lrux.data.release` (the release loaders): deprecated, removed in lrux 0.2.
Import from `lrux.data` instead."""

import warnings

from .release import (  # noqa: F401
    data_present,
    data_status,
    find_task_dir,
    load_split,
    missing_data_message,
    prepare,
)

warnings.warn("lrux.data.loaders is deprecated and goes in lrux 0.2; import from lrux.data",
              DeprecationWarning, stacklevel=2)
