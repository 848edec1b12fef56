"""PHR (Prompt History Record), pure: render and parse records, the PR body and its markers.

Templates are Jinja2 files of this package (`aiops/phr/templates/`); jinja2 and ruamel are
imported only when something is rendered, so importing this package stays cheap. No I/O.
"""

from aiops.phr.render import (
    MAX_BODY_CHARS,
    MarkerError,
    build_meta,
    cell,
    comment_marker,
    decode_marker,
    encode_marker,
    escape_text,
    fence,
    find_comment_marker,
    inline_code,
    normalize_record,
    parse_record,
    pr_title,
    recommendation_record,
    render_pr_body,
    render_record,
)

__all__ = [
    "MAX_BODY_CHARS",
    "MarkerError",
    "build_meta",
    "cell",
    "comment_marker",
    "decode_marker",
    "encode_marker",
    "escape_text",
    "fence",
    "find_comment_marker",
    "inline_code",
    "normalize_record",
    "parse_record",
    "pr_title",
    "recommendation_record",
    "render_pr_body",
    "render_record",
]
