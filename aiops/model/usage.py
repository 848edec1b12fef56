"""Usage history (DESIGN §4.3): per-container CPU (cores) and memory (working-set bytes) series.

Sources (Prometheus, files, `aiops collect` data) are adapters that produce `UsageData`; the
right-sizing engine reads it. Values are numpy arrays so 1,000 containers × 14 days stay small
and fast. No I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

Resource = Literal["cpu", "memory"]


@dataclass(frozen=True, eq=False)
class ContainerSeries:
    """One Prometheus matrix series: samples of one resource of one container of one pod.

    `timestamps` are unix seconds (float64 array), `values` cores or bytes (float64 array), same length,
    sorted by time. Samples may be NaN/negative in raw input; sources keep them, the engine filters.
    """

    namespace: str
    pod: str
    container: str
    resource: Resource
    timestamps: Any  # numpy.ndarray[float64]
    values: Any  # numpy.ndarray[float64]

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True, eq=False)
class UsageData:
    """All series read for a time window, plus per-target problems the source met.

    `errors` maps "namespace/pod" or "namespace/*" to a one-line reason when a query answered 4xx
    (the target becomes `Skipped` with cause `source-error`, not a failure of the run).
    """

    series: tuple[ContainerSeries, ...] = ()
    errors: Mapping[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None

    def for_resource(self, resource: Resource) -> Iterable[ContainerSeries]:
        return (s for s in self.series if s.resource == resource)


class UsageSource(Protocol):
    """A port that reads usage history for some namespaces over [start, end]."""

    def fetch(self, namespaces: Sequence[str], start: datetime, end: datetime) -> UsageData: ...
