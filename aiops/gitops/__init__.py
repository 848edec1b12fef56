"""GitOps adapter: recommendations become minimal file changes, rendered with Helm, proposed via forges.

- `patch`: comment-preserving value patches of YAML text (ruamel.yaml node positions, text splices);
- `mapping`: workload + container → file + key path (targets, Helm release metadata, apply.releases);
- `plan`: Recommendation → FileChange(s) with KeyChanges and a unified diff (file text in, text out);
- `helm`: `helm template` of before/after for the affected release and the diff of rendered objects;
- forges (`forge`, `local`, `github*`): branches, commits and pull requests.

Submodules are imported explicitly (`from aiops.gitops.plan import plan`); importing this package
loads nothing heavy. Adapters here never import other adapters; `aiops.pipeline` composes them.
"""
