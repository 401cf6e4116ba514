"""chatkit.bench and benchmarks/: the fan-out benchmarks, at a tiny size."""
