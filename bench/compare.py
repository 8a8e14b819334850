"""Compare two kept benchmark runs: `python -m bench.compare OLD NEW` prints each figure and NEW / OLD.

A ratio above 1 is slower (or more memory); one above 1.10 is flagged, since this machine is shared and two runs of
the same code differ by a few per cent.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.runs import FIGURES, load_run

FLAG_RATIO = 1.10


def compare(old: dict, new: dict) -> list[tuple[str, str, str, str]]:
    """(figure, old, new, ratio) for every figure both runs have."""
    rows = []
    for figure in FIGURES:
        if figure.key in old["figures"] and figure.key in new["figures"]:
            before, after = old["figures"][figure.key], new["figures"][figure.key]
            ratio = after / before if before else float("inf")
            flag = "  <- slower" if ratio > FLAG_RATIO else ""
            rows.append((figure.label, f"{before:.2f}", f"{after:.2f}", f"{ratio:.2f}{flag}"))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    args = parser.parse_args(argv)
    old, new = load_run(args.old), load_run(args.new)
    print(f"{args.old.name} ({old['date']}) -> {args.new.name} ({new['date']})")
    width = max(len(label) for label, *_ in compare(old, new)) if compare(old, new) else 10
    print(f"{'figure':<{width}}  {'old':>8}  {'new':>8}  new/old")
    for label, before, after, ratio in compare(old, new):
        print(f"{label:<{width}}  {before:>8}  {after:>8}  {ratio}")


if __name__ == "__main__":
    main()
