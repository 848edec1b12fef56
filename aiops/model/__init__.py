"""Records shared by every layer: snapshot, findings, recommendations, change sets, PHRs.

Frozen dataclasses with JSON forms. No I/O, no imports from other aiops layers except errors.
"""

from aiops.model.changes import ChangeSet, FileChange, KeyChange
from aiops.model.findings import CAUSE_TYPES, CODES, Cause, Diagnosis, Finding, Severity
from aiops.model.k8s import K8sObject, ObjectRef, OwnerRef, format_time, parse_time
from aiops.model.phr import PhrRecord, decision_id, record_path
from aiops.model.recommendations import Cost, Recommendation, Skipped, content_hash, recommendation_key
from aiops.model.snapshot import Snapshot, newest_timestamp

__all__ = [
    "CAUSE_TYPES",
    "CODES",
    "Cause",
    "ChangeSet",
    "Cost",
    "Diagnosis",
    "FileChange",
    "Finding",
    "K8sObject",
    "KeyChange",
    "ObjectRef",
    "OwnerRef",
    "PhrRecord",
    "Recommendation",
    "Severity",
    "Skipped",
    "Snapshot",
    "content_hash",
    "decision_id",
    "format_time",
    "newest_timestamp",
    "parse_time",
    "recommendation_key",
    "record_path",
]
