"""Shared test helpers. Import them with `from conftest import enable_x64`."""

import jax


def enable_x64():
    """Context manager turning on float64 inside a test (jax 0.10+ and older jax)."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64 as legacy  # jax < 0.5

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
