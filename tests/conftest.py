"""Shared test helpers. Import them with `from conftest import enable_x64`."""

import jax


def enable_x64():
    """Context manager turning on float64 inside a test (jax 0.10+ and older jax)."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64 as legacy  # jax < 0.5

    return legacy()


def native_param(*other_modes):
    """Scan modes for parametrize, with "native" skipped where the C++ kernel cannot build
    (test_scan.py::test_native_kernel_builds fails on a machine with a compiler instead)."""
    import pytest

    from lrux.kernels import native_available

    usable = jax.default_backend() == "cpu" and native_available()
    native = pytest.param(
        "native", marks=pytest.mark.skipif(not usable, reason="native CPU scan unavailable")
    )
    return [*other_modes, native]
