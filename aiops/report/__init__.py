"""Scheduled reports (health, utilization, security) and generated runbooks, as Markdown files.

`document` (front matter, Mermaid charts), `health`, `utilization`, `security` (builders),
`runbooks` (the per-code catalog), `store` (paths, reading earlier reports, append-only writes).
This adapter reads and writes report files only; it never talks to the cluster or a forge itself
(the pipeline passes readers and rows in) and imports no other adapter.
"""
