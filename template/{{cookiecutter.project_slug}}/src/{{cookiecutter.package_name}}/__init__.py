"""Training pipeline: prepare, train, evaluate, model card.

Project: {{ cookiecutter.project_name }}.
Each stage is a script that `dvc repro` runs from the repository root (see dvc.yaml); the
functions inside are importable for tests (`pythonpath = ["src"]` in pyproject.toml).
"""
