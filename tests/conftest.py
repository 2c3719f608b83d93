"""Shared test helpers. Import them with `from conftest import enable_x64`."""

from typing import Any, TypeVar

import jax

M = TypeVar("M")


def enable_x64():
    """Context manager turning on float64 inside a test (jax 0.10+ and older jax)."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64 as legacy  # type: ignore  # jax < 0.5

    return legacy()


def native_usable() -> bool:
    """True where the native CPU scans run here: a CPU backend and a kernel that builds."""
    from lrux.kernels import native_available

    return jax.default_backend() == "cpu" and native_available()


def native_param(*other_modes):
    """Scan modes for parametrize, with "native" skipped where the C++ kernel cannot run
    (test_scan.py::test_native_kernel_builds fails on a machine with a compiler instead)."""
    import pytest

    native = pytest.param(
        "native", marks=pytest.mark.skipif(not native_usable(), reason="native scan unusable")
    )
    return [*other_modes, native]


def make_as(cls: type[M], name: str, d_model: int, d_state: int, **kwargs: Any) -> M:
    """`lrux.make_mixer(name, ...)` narrowed to `cls` (a layer class or a capability of
    `lrux.layers.base`), asserting it: what a type checker needs to let a test read a
    layer's own fields or pass it to `lrux.signal`'s typed functions."""
    from lrux.registry import make_mixer

    mixer = make_mixer(name, d_model, d_state, **kwargs)
    assert isinstance(mixer, cls), f"{name}: a {type(mixer).__name__}, not a {cls.__name__}"
    return mixer
