"""Old name of `lrux.data.release` (the release loaders), kept so old imports work."""

from .release import (  # noqa: F401
    data_present,
    data_status,
    find_task_dir,
    load_split,
    missing_data_message,
    prepare,
)
