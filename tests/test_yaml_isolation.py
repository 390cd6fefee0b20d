"""livret reads YAML its own way (every scalar as typed) without changing PyYAML for the
rest of the process."""

from __future__ import annotations

from pathlib import Path

import yaml

from livret.errors import Collector
from livret.reading.reader import load_yaml


def test_importing_livret_leaves_pyyaml_alone():
    import livret.reading.loader  # noqa: F401  (everything that reads YAML)
    import livret.reading.reader  # noqa: F401

    text = "a: 12\nb: no\nc: 1.5\nd: 2024-01-02"
    assert yaml.safe_load(text) == {
        "a": 12,
        "b": False,
        "c": 1.5,
        "d": __import__("datetime").date(2024, 1, 2),
    }
    assert yaml.load(text, Loader=yaml.FullLoader)["a"] == 12
    assert yaml.load(text, Loader=yaml.Loader)["b"] is False


def test_livret_keeps_scalars_as_typed():
    problems = Collector()
    doc = load_yaml(
        "a: 0561270762\nb: no\nc: 1.50\nd: true\ne: 12:30\nf: ~", Path("x.yaml"), problems
    )
    assert doc is not None
    assert doc.data == {
        "a": "0561270762",
        "b": "no",
        "c": "1.50",
        "d": True,
        "e": "12:30",
        "f": None,
    }
