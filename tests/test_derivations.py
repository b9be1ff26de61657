"""derivations/ is generated from the engine; a checked-in file that differs is stale."""
from pathlib import Path

import pytest

from replicasym.report import CATALOGUE, derivation_markdown

ROOT = Path(__file__).resolve().parent.parent / "derivations"


@pytest.mark.parametrize("stem,builder,kwargs,ansatz,numbers", CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_checked_in_derivation_is_current(stem, builder, kwargs, ansatz, numbers):
    path = ROOT / f"{stem}.md"
    assert path.exists(), f"{path} is missing: run `replicasym derivations -o derivations`"
    assert path.read_text(encoding="utf-8") == derivation_markdown(builder(**kwargs), ansatz, numbers), (
        f"{path} is stale: run `replicasym derivations -o derivations`")


def test_derivation_trace_names_every_pipeline_step():
    text = (ROOT / "sk-1rsb.md").read_text(encoding="utf-8")
    for rule in ("disorder average", "ansatz", "hubbard-stratonovich", "replica limit",
                 "conjugate elimination", "saddle-point equations", "replicon", "zero temperature"):
        assert f"**{rule}**" in text
