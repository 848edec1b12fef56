"""The PHR (Prompt History Record) as data: front matter + Markdown sections (DESIGN §4.5).

Rendering to Markdown (Jinja2) and parsing back live with the PHR renderer; this module only
holds the record, its stages and its append-only path. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

STAGES: tuple[str, ...] = ("recommendation", "execution", "validation", "rollback")
VERDICTS: tuple[str, ...] = ("improved", "unchanged", "regressed")
OUTCOMES: tuple[str, ...] = ("success", "failed", "rolled-back", "pending")
SECTIONS: tuple[str, ...] = (
    "Recommendation",
    "Evidence",
    "Change",
    "Risk & approval",
    "Execution",
    "Validation",
    "Rollback procedure",
)


def decision_id(day: datetime, key: str) -> str:
    """The decision id `<yyyymmdd>-<key>` (DESIGN §4.4)."""
    return f"{day.strftime('%Y%m%d')}-{key}"


def record_path(record_id: str, stage: str, created: datetime) -> str:
    """`history/prompts/YYYY/MM/<id>--<stage>.md` — append-only, one file per stage."""
    return f"history/prompts/{created.strftime('%Y')}/{created.strftime('%m')}/{record_id}--{stage}.md"


@dataclass(frozen=True)
class PhrRecord:
    """One stage of one decision. `front` holds the YAML front matter keys of DESIGN §4.5."""

    id: str
    stage: str
    created: datetime
    front: Mapping[str, Any]
    sections: Mapping[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return record_path(self.id, self.stage, self.created)
