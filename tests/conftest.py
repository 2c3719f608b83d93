"""Shared test helpers. Import them with `from conftest import enable_x64`."""

import jax


def enable_x64():
    """Context manager turning on float64 inside a test (jax 0.10+ and older jax)."""
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64 as legacy  # jax < 0.5

    return legacy()
