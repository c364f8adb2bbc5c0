"""The mappings benchmark runs end to end at a small size and measures what it says."""

from __future__ import annotations

from bench.mappings import inputs, measure


def test_the_benchmark_previews_a_real_mapping_change() -> None:
    given = inputs(1500, 60)
    assert len(given.current.rules) == len(given.proposed.rules) == 60
    assert given.current.content_hash != given.proposed.content_hash
    figures = measure(given)
    assert figures["people"] == 1500 and figures["rules"] == 60
    # the edit gives a department rule another persona and the top priority: people move,
    # and their moves cause enrollments the current tree would not make
    assert figures["moves"] > 0 and figures["caused"] > 0
