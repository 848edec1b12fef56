"""Adapters that write to the cluster (DESIGN §3): the rollout monitor's pause and undo for now.

Writes go through the official `kubernetes` client (imported lazily), always with field manager
`aiops`. Nothing here decides anything: callers pass what the pure core decided.
"""
