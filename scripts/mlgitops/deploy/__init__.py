"""Deployment as code: the desired state of a stage, rendered into `deploy/<stage>/`.

`settings` reads the policy's `deploy:` section, `manifests` renders the KServe,
Argo CD and Flux objects (pure), `crds` validates them against the vendored CRD
schemas, `publish` puts a servable copy of a version next to the DVC objects, `gate`
smoke- and load-tests a served model, `pr_body` writes what a reviewer reads.
"""
