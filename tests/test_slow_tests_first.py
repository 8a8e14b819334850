"""tests/conftest.py's order for `--dist worksteal`: the `slow` tests at the heads of the blocks xdist hands out."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.conftest import slow_first_in_each_block


@dataclass
class Item:
    name: str
    slow: bool = False
    module: str | None = None

    @property
    def nodeid(self) -> str:
        return f"tests/{self.module or self.name}.py::{self.name}"

    def get_closest_marker(self, name: str):
        return True if name == "slow" and self.slow else None


def worksteal_blocks(items: list, processes: int) -> list[list]:
    """What xdist 3.8's WorkStealingScheduling sends first: each process what is left // the processes left."""
    blocks, left = [], list(items)
    for process in range(processes):
        size = len(left) // (processes - process)
        blocks.append(left[:size])
        left = left[size:]
    return blocks


@pytest.mark.parametrize(("count", "slow_at", "processes"), [(10, [9], 2), (11, [3, 7, 10], 2), (13, [0, 1, 12], 4)])
def test_each_block_starts_with_its_share_of_slow_tests_and_the_rest_keep_their_order(count, slow_at, processes):
    items = [Item(f"t{i}", slow=i in slow_at) for i in range(count)]
    ordered = slow_first_in_each_block(items, processes)
    assert sorted(item.name for item in ordered) == sorted(item.name for item in items)
    heads = [block[0] for block in worksteal_blocks(ordered, processes) if block]
    slow = [item for item in items if item.slow]
    assert heads[: len(slow)] == slow[:processes]
    quick = [item for item in ordered if not item.slow]
    assert quick == [item for item in items if not item.slow]


def test_a_module_with_slow_tests_goes_whole_to_one_process_so_its_module_fixture_is_set_up_once():
    """Seven slow tests of one module, one quick test of it further on, and one slow test each of two others, on 4
    processes: the whole first module heads one block."""
    items = [Item(f"a{i}", slow=True, module="auth") for i in range(7)]
    items += [Item(f"t{i}") for i in range(15)] + [Item("a7", module="auth")] + [Item(f"u{i}") for i in range(15)]
    items += [Item("w", slow=True), Item("s", slow=True)]
    blocks = worksteal_blocks(slow_first_in_each_block(items, 4), 4)
    assert [item.name for item in blocks[0][:8]] == [f"a{i}" for i in range(8)]
    per_block = [[item.name for item in block if item.slow or item.module] for block in blocks]
    assert per_block == [[f"a{i}" for i in range(8)], ["w"], ["s"], []]


def test_without_slow_tests_the_order_is_unchanged():
    items = [Item(f"t{i}") for i in range(7)]
    assert slow_first_in_each_block(items, 3) == items
