"""Monthly cost of a workload's requests at the configured prices (DESIGN §4.4 `cost`).

cost = replicas × Σ_containers (cpu_request_cores × cpu_hour + memory_request_GiB × gib_hour) × 730.
Requests only (what the scheduler reserves), as the seed's savings metric defines it. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiops.model.quantity import GI
from aiops.model.recommendations import Cost
from aiops.settings import Prices

HOURS_PER_MONTH = 730


def monthly(replicas: int, requests: Iterable[tuple[float | None, float | None]], prices: Prices) -> float:
    """Cost per month of `replicas` pods whose containers request (cpu cores, memory bytes)."""
    per_pod = sum(
        (cpu or 0.0) * prices.cpu_hour + (mem or 0.0) / GI * prices.gib_hour for cpu, mem in requests
    )
    return replicas * per_pod * HOURS_PER_MONTH


def compare(
    replicas_before: int,
    before: Iterable[tuple[float | None, float | None]],
    replicas_after: int,
    after: Iterable[tuple[float | None, float | None]],
    prices: Prices,
) -> Cost:
    return Cost(
        monthly_before=monthly(replicas_before, before, prices),
        monthly_after=monthly(replicas_after, after, prices),
    )
