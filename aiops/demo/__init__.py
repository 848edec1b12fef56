"""`aiops demo`'s adapters: the simulated cluster, its load model and the demo repository's files.

Everything cluster-like here is SIMULATED (an in-process API server on 127.0.0.1 and a minimal
controller); nothing talks to a real cluster, to GitHub or to the network. The orchestration of
the demo's scenarios lives in `aiops.pipeline.demo`.
"""
