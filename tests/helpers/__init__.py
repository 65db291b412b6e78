"""Helpers shared by several test folders (import as `from helpers.<module> import ...`)."""
