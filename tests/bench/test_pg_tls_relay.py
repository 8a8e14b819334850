"""bench/pg_tls_relay.py against the real relay, on both loops, for a few round trips."""

from __future__ import annotations

from bench import pg_tls_relay


def test_both_loops_relay_every_echo_whole_and_are_timed():
    result = pg_tls_relay.bench(count=40, repeat=1)

    assert set(result) == {"uvloop (shipped)", "asyncio"}
    for figures in result.values():
        assert set(figures) == {"small_wall_us", "small_relay_cpu_us", "8k_wall_us", "8k_relay_cpu_us"}
        assert figures["small_wall_us"] > 0 and figures["8k_wall_us"] > 0
        # The kernel counts CPU in clock ticks (10 ms): a few round trips may read as none.
        assert figures["small_relay_cpu_us"] >= 0 and figures["8k_relay_cpu_us"] >= 0
