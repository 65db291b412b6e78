"""The strict loader reads valid files through libyaml and must read them exactly as its
pure-Python parser does: same data, same line of every key; and bad files are reported
in the Python parser's words (it parses them again)."""

from __future__ import annotations

import pytest

from mlgitops.errors import InputError
from mlgitops.io import yaml_strict
from mlgitops.io.yaml_strict import parse_yaml

VALID = [
    "a: 1\nb: [1, 2.5, -3e-2, 0x1F, 0o17, -0.0]\n",
    'name: café\nnfd: cafe\u0301\nemoji: "\\U0001F600"\n',
    "text: |\n  line one\n  line two\nfolded: >\n  one\n  two\n\nplain: multi\n  line\n",
    "# comment\nstages:\n  train:\n    cmd: python train.py  # trailing\n    deps:\n"
    "    - path: a.csv\n      md5: 0123abc\n      size: 10\n",
    "quoted: 'it''s'\ndouble: \"tab\\there\"\nempty:\nnull_: ~\nbool: true\n",
    "flow: {a: {b: [x, {c: d}]}}\nlist:\n- - nested\n  - more\n- {k: v}\n",
    "ts: 2024-01-01\nversion: 010\nstr: '1.0'\n",
]
MACHINE_ONLY = ["answer: yes\nswitch: on\n"]  # YAML 1.2 strings in files DVC writes
INVALID = [
    "a: 1\na: 2\n",
    "a: &x 1\nb: *x\n",
    "flag: yes\n",
    "a: [1, 2\n",
    "a:\n\t- tab\n",
    "x: .nan\n",
    "key: value\n bad indent: 1\n",
]


def _reference(text: str, *, machine: bool) -> yaml_strict.YamlDocument:
    loader = yaml_strict._MachineLoader if machine else yaml_strict._Loader
    return yaml_strict._parse_with(loader, text, "f.yaml", 0)


def test_libyaml_is_there_so_the_fast_path_is_the_one_tested() -> None:
    assert yaml_strict.LIBYAML


@pytest.mark.parametrize("machine", [False, True])
@pytest.mark.parametrize("text", VALID)
def test_fast_path_reads_valid_files_as_the_python_parser(text: str, machine: bool) -> None:
    assert yaml_strict._FAST_LOADERS is not None
    fast_loader = yaml_strict._FAST_LOADERS[1 if machine else 0]
    fast = yaml_strict._parse_with(fast_loader, text, "f.yaml", 3)
    reference = yaml_strict._parse_with(
        yaml_strict._MachineLoader if machine else yaml_strict._Loader, text, "f.yaml", 3
    )
    assert fast.data == reference.data
    assert dict(fast.lines) == dict(reference.lines)


@pytest.mark.parametrize("text", MACHINE_ONLY)
def test_machine_written_yes_is_a_string_on_the_fast_path(text: str) -> None:
    assert parse_yaml(text, file="dvc.lock", written_by_dvc=True).data == {
        "answer": "yes",
        "switch": "on",
    }
    with pytest.raises(InputError, match=r"YAML 1\.1"):
        parse_yaml(text, file="params.yaml")


@pytest.mark.parametrize("text", INVALID)
def test_bad_files_get_the_python_parsers_message(text: str) -> None:
    with pytest.raises(InputError) as expected:
        _reference(text, machine=False)
    with pytest.raises(InputError) as got:
        parse_yaml(text, file="f.yaml")
    assert got.value.message == expected.value.message
    assert got.value.location == expected.value.location
