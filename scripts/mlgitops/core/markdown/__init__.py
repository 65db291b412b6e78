"""Markdown bodies the bots post, one renderer per body; `escape` is the one escaper of
untrusted text they all use."""
