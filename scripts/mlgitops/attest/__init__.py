"""Provable versions: a signed release folder with SLSA provenance, and its verification.

`statement` is pure (provenance building and comparison); the other modules do the I/O:
`folder` assembles the release folder, `signing` wraps the `model_signing` library,
`storage` keeps the signature and provenance in the DVC remote and on the GitHub Release,
`rebuild` re-runs the pipeline from scratch, `service` ties them together.
"""
