"""Analyzer family 'scheduling' (placeholder until its analyzers land in this session)."""

from __future__ import annotations

from collections.abc import Iterable

from aiops.model import Finding, Snapshot


def analyze(snapshot: Snapshot) -> Iterable[Finding]:
    return ()
