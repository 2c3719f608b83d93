"""lrux: the Linear Recurrent Unit and its relatives in JAX/Equinox."""
