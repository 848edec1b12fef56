"""Redaction of secrets in any text aiops emits (placeholder; the full signature set lands this session)."""

from __future__ import annotations

import re

_PATTERNS = (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),)


def redact(text: str) -> str:
    for pat in _PATTERNS:
        text = pat.sub(lambda m: m.group(1) + "[REDACTED]", text)
    return text
