"""`mlgitops demo`: the whole PR-to-release lifecycle, offline, on the bundled dataset."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from mlgitops.errors import InputError, Location, Outcome


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run bake -> train -> PR report + governance -> merge -> release, offline",
        description=(
            "Bake a repository from the template and train it. Pull request #1 improves the "
            "model: its report and governance verdict are posted as one sticky comment, the "
            "check passes, it is merged and the model promoted (verified DVC data, tag, "
            "release). Pull request #2 makes the model worse: governance fails, with its "
            "annotations on the offending lines, and it stays open. GitHub is played by a "
            "bare git repository and a local GitHub-like API server."
        ),
        epilog="Exit codes: 0 the lifecycle ran as described, 1 a gate did not decide as "
        "the story needs, 2 a tool or the template failed.",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="folder to work in (must be empty or absent; default: a new temporary folder)",
    )
    parser.add_argument(
        "--template",
        type=Path,
        default=None,
        help="template folder (default: template/ of this checkout)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> Outcome:
    """Run the lifecycle and print what a user would see on GitHub."""
    # Imported here, not above: the lifecycle pulls in the GitHub double and the template
    # tools, which `mlgitops demo --help` and the other commands do not need.
    from mlgitops.services.lifecycle import (
        Lifecycle,
        default_template_dir,
        prepare_environment,
        prepare_workdir,
    )

    template_dir = args.template or default_template_dir()
    if not (template_dir / "cookiecutter.json").is_file():
        raise InputError(
            "not a cookiecutter template (no cookiecutter.json)",
            location=Location(str(template_dir)),
            hint="pass --template PATH to the template/ folder of ml-gitops-template",
        )
    prepare_environment()
    workdir = prepare_workdir(args.output, lambda: tempfile.mkdtemp(prefix="mlgitops-demo-"))
    Lifecycle(template_dir=template_dir.resolve(), workdir=workdir).run()
    return Outcome.DONE
