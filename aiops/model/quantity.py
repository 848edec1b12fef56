"""Kubernetes resource quantities: parse to numbers (cores, bytes) and format back.

Pure arithmetic; the file-style-preserving writer lives with the patcher (gitops).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from aiops.errors import InputError

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_RE = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z]*)\s*$")

MI = 2**20
GI = 2**30


def parse_quantity(value: object, *, field: str = "quantity") -> float:
    """Parse "130m", "1.5", "156Mi", "1G", 2 → a float in base units (cores or bytes)."""
    if isinstance(value, bool):
        raise InputError(f"{field}: {value!r} is not a quantity")
    if isinstance(value, int | float):
        return float(value)
    m = _RE.match(str(value))
    if not m:
        raise InputError(f"{field}: {value!r} is not a Kubernetes quantity")
    number, suffix = m.groups()
    try:
        num = Decimal(number)
    except InvalidOperation as exc:  # pragma: no cover - regex guards this
        raise InputError(f"{field}: {value!r} is not a Kubernetes quantity") from exc
    if suffix in _BINARY:
        return float(num * _BINARY[suffix])
    if suffix in _DECIMAL:
        return float(num * _DECIMAL[suffix])
    raise InputError(f"{field}: {value!r} has an unknown unit {suffix!r}")


def parse_cpu(value: object, *, field: str = "cpu") -> float:
    """CPU quantity → cores."""
    return parse_quantity(value, field=field)


def parse_memory(value: object, *, field: str = "memory") -> float:
    """Memory quantity → bytes."""
    return parse_quantity(value, field=field)


def _ceil_step(x: float, step: float) -> float:
    # epsilon-safe ceil: 0.1 * 3 must not become 0.30000000000000004 -> next step
    return math.ceil(round(x / step, 9)) * step


def ceil_cpu(cores: float) -> float:
    """Round CPU up: to 5m below one core, to 50m at or above."""
    if cores < 1:
        return _ceil_step(cores, 0.005)
    return _ceil_step(cores, 0.05)


def ceil_mi(num_bytes: float) -> float:
    """Round memory up to a whole MiB."""
    return _ceil_step(num_bytes, MI)


def nice_ceil_mi(num_bytes: float) -> float:
    """Round memory up to two significant digits in MiB (195Mi→200Mi, 228Mi→230Mi, 1234Mi→1300Mi)."""
    mib = num_bytes / MI
    if mib <= 0:
        return 0.0
    exp = math.floor(math.log10(mib)) - 1
    step = 10.0**exp
    return math.ceil(round(mib / step, 9)) * step * MI


def format_cpu(cores: float) -> str:
    """Cores → "130m", or "2" / "1.5" for whole/half cores at or above one core."""
    milli = round(cores * 1000)
    if milli >= 1000 and milli % 1000 == 0:
        return str(milli // 1000)
    return f"{milli}m"


def format_memory(num_bytes: float) -> str:
    """Bytes → the largest binary unit that expresses it exactly ("156Mi", "2Gi"), else Mi rounded up."""
    b = round(num_bytes)
    for unit in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        size = _BINARY[unit]
        if b >= size and b % size == 0:
            return f"{b // size}{unit}"
    if b < MI:
        return str(b)
    return f"{math.ceil(b / MI)}Mi"
