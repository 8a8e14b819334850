"""The CPU/memory pairs AWS Fargate accepts; anything else fails minutes into a deploy."""

from __future__ import annotations

GIB = 1024


def _steps(low_gib: int, high_gib: int, step_gib: int) -> tuple[int, ...]:
    return tuple(gib * GIB for gib in range(low_gib, high_gib + 1, step_gib))


# CPU units (1024 = 1 vCPU) -> the memory sizes in MiB allowed with it.
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: _steps(1, 4, 1),
    1024: _steps(2, 8, 1),
    2048: _steps(4, 16, 1),
    4096: _steps(8, 30, 1),
    8192: _steps(16, 60, 4),
    16384: _steps(32, 120, 8),
}


def is_fargate_size(cpu: int, memory: int) -> bool:
    return memory in FARGATE_SIZES.get(cpu, ())


def describe_allowed(cpu: int) -> str:
    """Human-readable list of what is allowed, for error messages."""
    if cpu not in FARGATE_SIZES:
        return f"cpu must be one of {', '.join(str(c) for c in FARGATE_SIZES)}"
    sizes = FARGATE_SIZES[cpu]
    if len(sizes) <= 4:
        return f"with cpu {cpu}, memory must be one of {', '.join(str(m) for m in sizes)} MiB"
    step = sizes[1] - sizes[0]
    return f"with cpu {cpu}, memory must be {sizes[0]}-{sizes[-1]} MiB in steps of {step}"
