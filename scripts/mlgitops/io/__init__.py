"""Everything that touches files and tools (git, DVC, YAML), turned into core types."""
