"""aiops: day-2 operations of a Helm-deployed Kubernetes application, run through git.

This top-level module must stay import-cheap: `aiops --help` loads it, so nothing heavy
(kubernetes, github, ruamel) is imported here.
"""

__version__ = "0.1.0"
