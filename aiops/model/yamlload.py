"""The fast YAML reader: PyYAML's C safe loader, with the implicit scalar resolution chosen here.

Used for data aiops reads, not edits (round-trip editing of values files is ruamel's job): kubectl
List files and `.github/aiops.yaml`. Timestamps always stay strings, as JSON has them. With
`yaml_1_2`, plain scalars resolve the YAML 1.2 way, as ruamel's safe loader does: only true/false
are booleans (`yes`, `on`, `no` stay strings), only decimal and 0x integers (no octal `010`, no
sexagesimal `1:30`). No I/O here: callers hand it text.
"""

from __future__ import annotations

import functools
import re
from typing import Any

__all__ = ["fast_safe_loader"]

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"


@functools.cache
def fast_safe_loader(*, yaml_1_2: bool = False) -> Any:
    """A safe `Loader` class for `yaml.load`/`yaml.load_all` (the C one when PyYAML has it)."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    dropped = {_TIMESTAMP, _BOOL, _INT} if yaml_1_2 else {_TIMESTAMP}

    class _Loader(base):  # type: ignore[misc,valid-type]
        pass

    resolvers = {
        first: [(tag, rx) for tag, rx in found if tag not in dropped]
        for first, found in base.yaml_implicit_resolvers.items()
    }
    _Loader.yaml_implicit_resolvers = {k: v for k, v in resolvers.items() if v}
    if yaml_1_2:
        _Loader.add_implicit_resolver(
            _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
        )
        _Loader.add_implicit_resolver(
            _INT, re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+)$"), list("-+0123456789")
        )
    return _Loader
