"""bench/redactors.py cannot rot silently: its corpora are built, every planted value is where
it says and is one our redactor catches with the detector of its kind, and the measure runs.

Only our redactor is exercised: Presidio and scrubadub live in .venv-compare, not here. No
assertion depends on timing.
"""

from __future__ import annotations

import sys

import pytest

from bench import redactors as bench
from ilake_contract.redact import DETECTORS, Redactor, normalize
from tests.corpus import corpus

PER_VARIANT = 2


@pytest.fixture(scope="module")
def planted() -> list[bench.Planted]:
    return bench.planted_corpus(PER_VARIANT)


def test_every_detector_of_ours_has_planted_secrets(planted):
    kinds = {p.kind for p in planted}
    assert set(DETECTORS) <= kinds
    assert set(DETECTORS) == bench.OURS_KINDS
    # and every format of every kind is planted as often as asked
    assert len(planted) == PER_VARIANT * sum(len(v) for v in bench.GENERATORS.values())


def test_the_planted_corpus_is_deterministic(planted):
    assert bench.planted_corpus(PER_VARIANT) == planted
    assert bench.planted_corpus(PER_VARIANT, seed=bench.SEED + 1) != planted


def test_each_planted_value_is_where_it_is_recorded(planted):
    for p in planted:
        assert p.text[p.start : p.end] == p.value, p
        assert len(p.value) >= 4, p
        # normalization alone never makes a value disappear from our output
        assert normalize(p.value) == p.value, p


def test_our_redactor_catches_every_planted_value_with_the_detector_of_its_kind(planted):
    redactor = Redactor(DETECTORS, "host")
    ours = bench.Ours()
    for p in planted:
        if p.kind not in DETECTORS:
            continue
        result = redactor.redact(p.text)
        assert p.value not in result.text, p
        assert p.kind in result.counts, (p, result)
        assert ours.caught(p), p


def test_the_surroundings_alone_are_left_alone():
    """What our redactor removes from a planted text is the planted value, not its context."""
    ours = bench.Ours()
    for context in bench.CONTEXTS:
        assert ours.unchanged(context.format("Quarterly report")), context


def test_the_bench_measures_the_benign_corpus_the_corpus_test_uses():
    assert bench.benign_corpus is corpus
    assert len(corpus()) >= 2200


def test_the_measure_and_the_report_run_on_a_sample(planted):
    tools = [bench.Ours()]
    benign = corpus()[:200]
    result = bench.measure(tools, benign, planted, repeat=1)
    assert result.benign_total == 200
    assert result.kept("ours") >= 0.95 * 200
    ours_total = sum(n for (kind, _), n in result.planted_total.items() if kind in DETECTORS)
    assert sum(result.caught["ours"].values()) >= ours_total
    assert set(result.speed) == {("ours", "benign"), ("ours", "planted")}
    assert all(rate > 0 for rate in result.speed.values())

    rows = bench.table(result, tools, by_variant=True)
    assert all(len(row) == 2 for row in rows)
    text = bench.markdown(rows)
    assert f"| all kinds ours handles ({len(DETECTORS)}) | {ours_total}/{ours_total} |" in text
    assert "| crypto | n/a" in text  # a kind only the others have a detector for
    assert bench.plain(rows).count("\n") == len(rows) - 1


def test_a_missing_comparator_is_reported_in_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "presidio_analyzer", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "scrubadub", None)
    tools, missing = bench.load_tools(["ours", "presidio", "scrubadub"])
    assert [tool.name for tool in tools] == ["ours"]
    assert set(missing) == {"presidio", "scrubadub"}
    assert all(reason.startswith("not installed") for reason in missing.values())

    bench.main(["--repeat", "1", "--per-variant", "1", "--markdown"])
    out = capsys.readouterr().out
    lines = out.splitlines()
    reported = [line for line in lines if line.startswith(("presidio:", "scrubadub:"))]
    assert len(reported) == 2
    assert all(": not installed (" in line for line in reported)
    assert "Traceback" not in out
    assert "| benign UI strings left unchanged" in out
