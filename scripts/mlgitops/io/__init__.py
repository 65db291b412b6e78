"""Files and tools turned into core types: the strict YAML loader, JSON Schema checks,
the policy and model card loaders. `mlgitops.core` never imports from here."""
