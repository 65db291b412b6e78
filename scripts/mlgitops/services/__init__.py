"""Services: orchestrate git, dvc and the GitHub client around the pure core."""
