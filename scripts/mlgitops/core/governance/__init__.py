"""Governance: the facts a repository offers, the rules of a policy, their results. Pure."""
