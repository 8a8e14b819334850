"""bench/capacity.py's last step, the shipped stacks' connection budgets, runs without a cluster: checked here so
that it cannot fail only after the script's minutes of measuring (it did once the prod stack's allowed ranges
became a refused placeholder)."""

from __future__ import annotations

from bench import capacity


def test_the_shipped_stacks_budgets_resolve_despite_their_placeholders_and_fit_their_database():
    for stack, instance_class in (("dev", "db.t4g.small"), ("prod", "db.m7g.large")):
        described, limit = capacity.stack_budget(stack)
        assert limit.endswith(f"({instance_class})")
        assert 0 < int(described.split(" = ")[0]) <= int(limit.split()[0])
