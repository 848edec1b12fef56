"""Composition of stages: each flow takes its ports (sources, forges) as parameters.

One module per flow (diagnosis, recommendation, proposal, ...). This is the only layer, besides
the CLI, that may import several adapters.
"""
