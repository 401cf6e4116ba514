"""``benchmarks/redis_fanout.py`` at a tiny size: one room over two server processes, nothing lost."""

from __future__ import annotations

from benchmarks import redis_fanout


def test_the_fan_out_benchmark_across_processes_loses_nothing_at_a_tiny_size():
    results = redis_fanout.run([2], size=6, messages=20, rounds=1, baseline=False, timeout=30)
    (two,) = results["runs"]
    assert results["lost"] == 0 and two["errors"] == []
    assert two["processes"] == 2 and len(two["server_cpu_ms_per_1000"]) == 2
    assert two["deliveries_per_s"] > 0 and two["redis_cpu_ms_per_1000"] > 0
    assert "| 2 |" in redis_fanout.table(results)
