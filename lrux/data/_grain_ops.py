"""grain transformations (kept apart: importing grain imports jax)."""

import grain

from .pipeline import finish_batch


class FinishBatch(grain.transforms.Map):
    """Pad/convert one batch with `finish_batch` (picklable for grain workers)."""

    def __init__(self, batch_size: int, kind: str, pad_to: int | None, mean, std):
        self.batch_size = batch_size
        self.kind = kind
        self.pad_to = pad_to
        self.mean = mean
        self.std = std

    def map(self, element):
        return finish_batch(element, batch_size=self.batch_size, kind=self.kind,
                            pad_to=self.pad_to, mean=self.mean, std=self.std)
