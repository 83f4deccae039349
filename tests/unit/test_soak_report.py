"""A soak's arithmetic: samples and answers cut into windows, the bounds of each table by
its writes and retentions, what breaks a bound, and the latency and memory targets."""

from orderstream_dev.chaos.soak_report import TABLES, Limits, Sample, SoakReport, windows

START = 1_000.0


def _sample(at: float, rows: int = 100, dead: int = 10, rss: float = 100.0,
            oldest: float = 0.5) -> Sample:
    return Sample(at=START + at, rss_mb={"api-1": rss, "relay-1": rss + 5},
                  rows=dict.fromkeys(TABLES, rows), dead=dict.fromkeys(TABLES, dead),
                  deleted=dict.fromkeys(TABLES, 0), oldest_transaction_s=oldest)


def test_an_inbox_may_hold_its_window_and_what_waits_for_a_prune_an_outbox_its_lag() -> None:
    limits = Limits(rate=100, inbox_retention_s=120, prune_interval_s=10, naptime_s=60,
                    lag_s=10, slack_rows=1_000)
    assert limits.rows("inventory.inbox") == 100 * (120 + 2 * 10 + 10) + 1_000
    assert limits.rows("orders.outbox") == 2 * 100 * 10 + 1_000  # OrderPlaced and outcome
    assert limits.rows("inventory.outbox") == 100 * 10 + 1_000
    # two naptimes of deletes, plus the fifth of the table autovacuum waits for
    assert limits.dead("inventory.inbox") == 100 * 2 * 60 + 0.2 * 16_000 + 1_000


def test_samples_answers_and_orders_fall_into_the_window_they_belong_to() -> None:
    samples = [_sample(0, rows=50), _sample(5, rows=80, rss=101), _sample(10, rows=70,
               rss=102, oldest=3.0), _sample(15, rows=60, rss=103), _sample(22, rss=104)]
    answers = [(START + t, latency, 202) for t, latency in
               [(1, 0.010), (2, 0.020), (9, 0.030), (11, 0.040), (19, 0.5)]]
    answers.append((START + 3, 9.0, 503))  # refused: not an accepted request's latency
    reserved = [(START + 1, START + 1.02), (START + 12, START + 12.2)]

    found = windows(START, 10, 20, samples, answers, reserved)

    assert [(w.start_s, w.end_s) for w in found] == [(0, 10), (10, 20)]
    assert [w.requests for w in found] == [3, 2]
    assert [w.http_p99_ms for w in found] == [30.0, 500.0]
    assert [w.reserved_p99_ms for w in found] == [20.0, 200.0]
    # the most rows sampled in each; memory at its last sample (the last window takes
    # the samples after the load too)
    assert [w.rows["orders.inbox"] for w in found] == [80, 100]
    assert [w.rss_mb["api-1"] for w in found] == [101, 104]
    assert [w.oldest_transaction_s for w in found] == [0.5, 3.0]


def _report(rows: int, dead: int, pruned: int, seconds: float = 300) -> SoakReport:
    limits = Limits(rate=10, inbox_retention_s=60, prune_interval_s=5, naptime_s=60)
    window = windows(START, 300, seconds, [_sample(0), _sample(200, rows=rows, dead=dead)],
                     [], [])
    report = SoakReport(10, seconds, 300, limits, window,
                        {t: pruned if t.endswith("inbox") else 3_000 for t in TABLES})
    report.judge()
    return report


def test_a_run_within_its_bounds_that_pruned_its_inboxes_passes() -> None:
    assert _report(rows=1_000, dead=2_000, pruned=2_400).problems == []


def test_rows_or_dead_rows_past_a_bound_and_inboxes_never_pruned_fail_the_run() -> None:
    problems = _report(rows=3_000, dead=4_000, pruned=0).problems
    assert "orders.outbox: 3,000 rows, past its bound of 1,200" in problems
    assert "inventory.inbox: 4,000 dead rows, past their bound of 2,560" in problems
    assert "orders.inbox: nothing was pruned" in problems
    # a run no longer than the dedupe window had nothing to prune yet
    assert not any("pruned" in p for p in _report(100, 10, 0, seconds=60).problems)


def test_the_last_windows_latency_and_memory_are_judged_against_the_firsts() -> None:
    samples = [_sample(0), _sample(290, rss=100), _sample(590, rss=111)]
    answers = [(START + 1, 0.100, 202), (START + 301, 0.119, 202)]
    reserved = [(START + 1, START + 1.05), (START + 301, START + 301.07)]
    limits = Limits(rate=10, inbox_retention_s=60, prune_interval_s=5, naptime_s=60)
    report = SoakReport(10, 600, 300, limits,
                        windows(START, 300, 600, samples, answers, reserved), {})

    assert [met for _, _, met in report.targets()] == [True, False, False]
    assert report.targets()[2][1] == "most grown: api-1 +11.0 MB"


def test_the_table_names_each_window_by_its_span() -> None:
    limits = Limits(rate=10, inbox_retention_s=60, prune_interval_s=5, naptime_s=60)
    short = SoakReport(10, 40, 20, limits, windows(START, 20, 40, [_sample(0)], [], []), {})
    long = SoakReport(10, 600, 300, limits, windows(START, 300, 600, [_sample(0)], [], []), {})
    assert "| 0-20 s |" in short.markdown() and "| 20-40 s |" in short.markdown()
    assert "| 0-5 min |" in long.markdown() and "| 5-10 min |" in long.markdown()
