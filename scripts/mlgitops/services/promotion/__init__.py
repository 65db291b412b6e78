"""Promotion: verified data, a pushed GTO tag, then a GitHub Release on that tag.

One small module per seam: `settings` (the policy's release section), `bump` (which
bump), `history` (versions follow commits), `data` (local cache and remote verified by
content, repair), `tagging` (tag objects, atomic never-forced pushes), `release` (the
GitHub Release and its facts) and `promoter`, which runs them in order over one
`Workspace`.
"""
