"""mlgitops: the bots behind ml-gitops-template (report, govern, promote, drift)."""

__version__ = "0.1.0"
