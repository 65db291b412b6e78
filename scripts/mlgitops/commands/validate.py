"""`mlgitops validate`: check policy.yaml, params.yaml and the model card, without rules.

Every problem is printed with its file, line and key (and as an annotation in GitHub
Actions); the exit code is 0 when all files are valid and 2 otherwise.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mlgitops.defaults import DEFAULT_PARAMS_FILE, DEFAULT_POLICY_PATH
from mlgitops.errors import InputError, Outcome


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        epilog="Exit codes: 0 every file is valid, 2 some file is not (each problem is listed).",
        help="check policy, params and model card files without running the rules",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--policy", default=DEFAULT_POLICY_PATH, metavar="FILE")
    parser.add_argument("--params", default=DEFAULT_PARAMS_FILE, metavar="FILE")
    parser.add_argument(
        "--model-card",
        metavar="FILE",
        help="default: model_card.path from the policy and the meta.card of every dvc.yaml"
        " artifact, else MODEL_CARD.md",
    )
    parser.add_argument("-C", "--repo", default=".", metavar="DIR", help="repository root")
    parser.set_defaults(handler=run)


def collect_problems(
    root: Path, policy_file: str, params_file: str, card_file: str | None
) -> tuple[list[InputError], list[str]]:
    """(problems, names of the files found valid)."""
    # Imported here, not above: `mlgitops validate --help` and the other commands need none.
    from mlgitops.io.model_card import load_model_card, model_card_problems
    from mlgitops.io.policy_loader import MAX_POLICY_BYTES, policy_from_document, policy_problems
    from mlgitops.io.workspace import confine
    from mlgitops.io.yaml_strict import load_params, load_yaml

    problems: list[InputError] = []
    valid: list[str] = []
    policy_card: str | None = None
    try:
        document = load_yaml(root / policy_file, file=policy_file, max_bytes=MAX_POLICY_BYTES)
        found = policy_problems(document)
        problems.extend(found)
        if not found:
            valid.append(policy_file)
            policy = policy_from_document(document)
            if policy.model_card is not None:
                policy_card = confine(
                    root, policy.model_card.path, location=policy.location("model_card", "path")
                )
    except InputError as error:
        problems.append(error)
    try:
        load_params(root / params_file, file=params_file)
        valid.append(params_file)
    except InputError as error:
        problems.append(error)
    default_card = policy_card or "MODEL_CARD.md"
    cards = [card_file] if card_file else _model_cards(root, default_card)
    for card in cards:
        try:
            found = model_card_problems(load_model_card(root / card, file=card))
            problems.extend(found)
            if not found:
                valid.append(card)
        except InputError as error:
            problems.append(error)
    return problems, valid


def _model_cards(root: Path, default: str) -> list[str]:
    """The card of every model `govern` checks: each dvc.yaml artifact with a metrics file
    (its `meta.card`, else the policy's card), or the policy's card alone."""
    from mlgitops.io.git import Git
    from mlgitops.io.workspace import Workspace

    ws = Workspace(Git(root))
    artifacts = ws.declared_models(None) if (root / "dvc.yaml").is_file() else ()
    cards: list[str] = []
    for artifact in artifacts:
        card = artifact.card or default
        if artifact.metrics and card not in cards:
            cards.append(card)
    return cards or [default]


def run(args: argparse.Namespace) -> Outcome:
    """Validate the three files; print every problem."""
    from mlgitops.github.actions import ActionsSettings, print_error

    settings = ActionsSettings.from_environ()
    problems, valid = collect_problems(Path(args.repo), args.policy, args.params, args.model_card)
    for name in valid:
        print(f"ok: {name}")
    if not problems:
        return Outcome.DONE
    if len(problems) == 1:
        raise problems[0]
    for problem in problems:
        print_error(problem, in_actions=settings.in_actions)
    raise InputError(f"{len(problems)} problems found (listed above)")
