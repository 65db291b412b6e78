"""Every body the bots post, fed the hostile table of test_escape, checked as rendered.

Report, governance section, release notes, drift issue, history table and a truncated
comment: tables keep their columns, nothing becomes a link, image, raw HTML, mention or
issue link, no invisible character reaches the reader, and look-alike names are never
two identical rows.
"""

from __future__ import annotations

import pandas as pd
import pytest
from helpers.rendered import (
    live_text,
    problems,
    shown_text,
    table_rows,
    table_shapes,
    tokens,
    walk,
)
from test_escape import HOSTILE

from mlgitops.core.diff import diff_metrics, diff_params
from mlgitops.core.drift import DriftPolicy, compute_drift
from mlgitops.core.governance.facts import GovernanceFacts, MetricsFacts
from mlgitops.core.governance.rules import evaluate
from mlgitops.core.markdown.drift import render_markdown as render_drift
from mlgitops.core.markdown.governance import render_markdown as render_governance
from mlgitops.core.markdown.history import render_history_md
from mlgitops.core.markdown.release import ReleaseFacts, render_release_notes
from mlgitops.core.markdown.report import ModelReport, Report, Revision, render_report
from mlgitops.core.policy import MetricRule, Policy
from mlgitops.core.versioning import TagRef, build_history
from mlgitops.services.comment import COMMENT_LIMIT, compose, marker

NAMES = [name for name in HOSTILE.values() if name]
NFC, NFD, CYRILLIC = "caf\u00e9", "cafe\u0301", "\u0430ccuracy"


def _report(names: list[str]) -> str:
    base = {name: float(i) for i, name in enumerate(names)}
    head = {name: float(i) + 0.5 for i, name in enumerate(names)}
    model = ModelReport(
        "model", Revision("main", "1" * 40, "merge-base"), tuple(diff_metrics(base, head))
    )
    params = tuple(diff_params(dict.fromkeys(names, "a"), dict.fromkeys(names, "b")))
    head_revision = Revision("head", "2" * 40, "ref")
    return render_report(
        Report(head_revision, model.base, (model,), params, model.base, (), (), None)
    )


def _governance(names: list[str]) -> str:
    policy = Policy(1, {name: MetricRule(name, True, min=0.5) for name in names})
    facts = GovernanceFacts(metrics=MetricsFacts("m.json", dict.fromkeys(names, 0.1)))
    return render_governance(evaluate(policy, facts), policy_file="p.yaml", base_label=None)


def _release(names: list[str]) -> str:
    facts = ReleaseFacts(
        "model", "v1.0.0", "model@v1.0.0", "0" * 40,
        metrics=dict.fromkeys(names, 1.0), params=dict.fromkeys(names, "x"),
    )  # fmt: skip
    return render_release_notes(facts)


def _drift(names: list[str]) -> str:
    reference = pd.DataFrame({name: [1.0, 2.0, 3.0, 4.0] * 10 for name in names})
    current = pd.DataFrame({name: [9.0, 9.0, 9.0, 8.0] * 10 for name in names})
    return render_drift(compute_drift(reference, current, DriftPolicy()))


RENDERERS = {
    "report": _report,
    "governance": _governance,
    "release notes": lambda names: _release(names).split("### Data", 1)[0],
    "drift issue": _drift,
}


@pytest.mark.parametrize("render", RENDERERS.values(), ids=list(RENDERERS))
def test_hostile_names_render_inert(render: object) -> None:
    assert callable(render)
    body = render(NAMES)
    allowed = {"</details>", "<sub>", "</sub>"} | {
        line for line in body.splitlines() if line.startswith("<details><summary>")
    }
    assert problems(body, allowed_html=allowed) == []
    shapes = table_shapes(body)
    assert shapes and all(len(set(shape)) == 1 for shape in shapes)
    # every hostile name kept its own row: no row was merged or split
    assert max(len(shape) for shape in shapes) >= len(NAMES) + 1


@pytest.mark.parametrize("render", RENDERERS.values(), ids=list(RENDERERS))
def test_look_alikes_are_flagged_and_never_identical_rows(render: object) -> None:
    assert callable(render)
    body = render([NFC, NFD, CYRILLIC, "accuracy"])
    shown = shown_text(body)
    assert "Look-alike names" in shown
    assert "caf\\u00e9" in shown and "cafe\\u0301" in shown and "\\u0430ccuracy" in shown
    for rows in table_rows(body):
        assert len(rows) == len(set(rows)), f"two rows read the same: {rows}"


def test_summary_in_release_notes_has_no_backslash() -> None:
    body = render_release_notes(
        ReleaseFacts("m", "v1.0.0", "m@v1.0.0", "0" * 40, card="---\na: 1\n---\n# Card\n")
    )
    assert "<details><summary>MODEL_CARD.md</summary>" in body


def test_history_table_escapes_tag_data() -> None:
    refs = [TagRef("m@v1.0.0", "c" * 40, "2026-01-01 <b>@octocat</b> | #1")]
    body = render_history_md([build_history("m", refs)])
    assert problems(body) == []
    assert table_shapes(body) == [[4, 4]]


BACKTICK_NAME = "```evil"


def _long_report() -> str:
    names = [f"{BACKTICK_NAME}_{i}" for i in range(3000)]
    return _report(names) + "```mermaid\nxychart-beta\n" + "x\n" * 10_000 + "```\n"


@pytest.mark.parametrize(
    "body",
    [
        _long_report(),
        "```mermaid\n" + "line\n" * 20_000 + "```\n",
        "<details><summary>s</summary>\n\n" + "| a | b |\n|---|---|\n" + "| 1 | 2 |\n" * 9000,
        "~~~~\n" + "```\n" * 20_000 + "~~~~\n",
    ],
    ids=["three backticks in names", "open mermaid fence", "open details", "tilde fence"],
)
def test_truncation_keeps_notice_and_marker_outside_code(body: str) -> None:
    text, truncated = compose(body, "report", summary_url="https://github.com/a/b/actions/runs/1")
    assert truncated and len(text) <= COMMENT_LIMIT
    assert text.startswith(marker("report") + "\n")
    stream = tokens(text)
    # The notice is live text in a paragraph, with its link: not inside a fence or code.
    assert "Truncated" in live_text(text)
    assert any(
        t.type == "link_open" and t.attrs.get("href") == "https://github.com/a/b/actions/runs/1"
        for t in walk(stream)
    )
    notice_at = text.index("✂️ **Truncated**")
    assert text[:notice_at].rstrip().endswith("---")
    assert stream[-1].type != "fence"
