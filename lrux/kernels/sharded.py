"""Run an FFI kernel once per shard of its batch axes, under vmap, jit and any device mesh.

The native scans loop over leading batch axes in C++. An FFI call is opaque to XLA's
partitioner: given a batch sharded over several devices it would gather the whole batch on
every device. `batched_kernel` wraps the call twice so that it runs on each device's rows:

- `jax.custom_batching.custom_vmap`: every vmap adds a leading batch axis to all arguments
  (unbatched ones broadcast), so the kernel sees (*batch, *core) arrays and no vmap ever
  reaches the inner wrapper (custom_partitioning has no batching rule);
- `jax.experimental.custom_partitioning` with a Shardy rule: the batch axes keep the
  sharding they have, the core axes (sequence, state) are replicated, and each device calls
  the kernel on its local rows with the CPU's threads shared between the local devices.

With one device the call lowers to the plain FFI call.
"""

import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental.custom_partitioning import custom_partitioning
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

# newer jax: a Shardy rule with the core factors kept replicated; jax whose def_partition
# has no need_replication_factors (0.5.x) partitions with GSPMD through `infer`
_HAS_SHARDY_FACTORS = "need_replication_factors" in inspect.signature(
    custom_partitioning.def_partition
).parameters


@functools.cache
def batched_kernel(
    target: str,
    core_dims: tuple[str, ...],
    results_like: tuple[int, ...],
    aliases: tuple[tuple[int, int], ...] = (),
    **attributes: int,
):
    """The FFI target `target` as f(*args) -> tuple of results, batched and sharded.

    core_dims: each argument's trailing (per-sequence) axes as space-separated factor names,
    e.g. ("n", "n", "m", "l m"); every argument has the same leading batch axes in front.
    results_like: for each result, the argument whose shape and dtype it has.
    aliases: (argument, result) pairs written in place. attributes: the kernel's int64
    attributes; ``threads`` is divided between the devices of this process.
    """
    call = _partitioned(target, core_dims, results_like, aliases, tuple(attributes.items()))

    @jax.custom_batching.custom_vmap
    def kernel(*args):
        return call(*args)

    @kernel.def_vmap
    def _batch(axis_size, in_batched, *args):
        args = [
            x if batched else jnp.broadcast_to(x, (axis_size, *x.shape))
            for x, batched in zip(args, in_batched, strict=True)
        ]
        return kernel(*args), tuple(True for _ in results_like)

    return kernel


def _ffi(target, results_like, aliases, attributes, threads_divisor=1):
    """The plain FFI call on arrays of any batch shape."""

    def call(*args):
        kwargs = {k: np.int64(v) for k, v in attributes}
        if "threads" in kwargs:
            kwargs["threads"] = np.int64(max(1, int(kwargs["threads"]) // threads_divisor))
        results = tuple(jax.ShapeDtypeStruct(args[i].shape, args[i].dtype) for i in results_like)
        ffi = jax.ffi.ffi_call(target, results, input_output_aliases=dict(aliases) or None)
        return tuple(ffi(*args, **kwargs))

    return call


def _rule(core_dims, results_like):
    """Shardy rule "... n, ... l m -> ... l m" with every core factor kept replicated
    (listed in order of first appearance, as Shardy wants)."""
    factors = list(dict.fromkeys(f for dims in core_dims for f in dims.split()))
    operands = ", ".join(f"... {dims}".rstrip() for dims in core_dims)
    results = ", ".join(f"... {core_dims[i]}".rstrip() for i in results_like)
    return f"{operands} -> {results}", tuple(factors)


def _partitioned(target, core_dims, results_like, aliases, attributes):
    plain = _ffi(target, results_like, aliases, attributes)
    wrapped = custom_partitioning(plain)
    n_core = [len(dims.split()) for dims in core_dims]

    def partition(mesh, arg_shapes, result_shape):
        # the batch axes' sharding chosen for the first result; core axes replicated
        first = result_shape[0]
        n_batch = first.ndim - n_core[results_like[0]]
        spec = tuple(getattr(first.sharding, "spec", ())) + (None,) * first.ndim
        batch = spec[:n_batch]
        arg_shardings = tuple(
            NamedSharding(mesh, P(*batch, *(None,) * n)) for n in n_core
        )
        out_shardings = tuple(arg_shardings[i] for i in results_like)
        local = _ffi(target, results_like, aliases, attributes, jax.local_device_count())
        return mesh, local, out_shardings, arg_shardings

    def infer(mesh, arg_shapes, result_shape):
        # GSPMD (jax without Shardy factors): results keep the first like-argument's
        # batch sharding, core axes replicated
        like = arg_shapes[results_like[0]]
        n_batch = like.ndim - n_core[results_like[0]]
        spec = tuple(getattr(like.sharding, "spec", ())) + (None,) * like.ndim
        return tuple(
            NamedSharding(mesh, P(*spec[:n_batch], *(None,) * n_core[i])) for i in results_like
        )

    rule, factors = _rule(core_dims, results_like)
    if _HAS_SHARDY_FACTORS:
        wrapped.def_partition(
            partition=partition, sharding_rule=rule, need_replication_factors=factors
        )
    else:
        wrapped.def_partition(partition=partition, infer_sharding_from_operands=infer)
    return wrapped
