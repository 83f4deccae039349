"""The dedupe window against the topic's retention: no shorter, and forever needs forever."""

import math

import pytest

from orderstream.runtime.inbox_window import window_problem

DAY_S = 86_400.0
DAY_MS = 86_400_000


@pytest.mark.parametrize(("window_s", "kept_ms"), [
    (7 * DAY_S, 7 * DAY_MS), (8 * DAY_S, 7 * DAY_MS), (math.inf, 7 * DAY_MS), (math.inf, None),
], ids=["as long", "longer", "forever, topic not", "both forever"])
def test_a_window_no_shorter_than_the_topic_keeps_its_records_is_accepted(window_s, kept_ms):
    assert window_problem(window_s, "orders", kept_ms) is None


def test_a_window_shorter_than_the_topics_retention_is_refused_saying_how_long_it_must_be():
    problem = window_problem(3 * DAY_S, "orders", 7 * DAY_MS)

    assert problem == (
        "the dedupe window ORDERSTREAM_INBOX_RETENTION_S=259200 (3 days) is shorter than "
        "topic orders's retention.ms=604800000 (7 days): a message read again from the topic "
        "after its inbox row was pruned would be applied again; set "
        "ORDERSTREAM_INBOX_RETENTION_S to at least 604800")


def test_a_finite_window_on_a_topic_kept_forever_is_refused_naming_both_ways_out():
    problem = window_problem(90.0, "orders", None)

    assert problem is not None
    assert "ORDERSTREAM_INBOX_RETENTION_S=90 (1.5 minutes)" in problem
    assert "set ORDERSTREAM_INBOX_RETENTION_S=inf" in problem
    assert "give the topic a retention.ms" in problem
