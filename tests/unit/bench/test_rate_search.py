"""The search for the flow's maximum sustainable rate: up the ladder until a rate fails,
then bisection until the highest rate held is within 10% of the lowest that failed above
it."""

from collections.abc import Callable

from orderstream_dev.bench.rate_search import Bracket, ladder, next_rate


def _search(holds: Callable[[int], bool], limit: float = 6_000) -> dict[int, bool]:
    """Every rate offered, in order, against a flow that holds the rates `holds` says."""
    results: dict[int, bool] = {}
    while (rate := next_rate(results, limit)) is not None:
        assert rate not in results
        results[rate] = holds(rate)
    return results


def test_the_ladder_doubles_to_800_then_climbs_by_400_up_to_the_limit() -> None:
    assert ladder(2_500) == [100, 200, 400, 800, 1_200, 1_600, 2_000, 2_400]
    assert ladder(150) == [100]


def test_past_the_ladder_the_search_bisects_until_within_ten_percent() -> None:
    offered = _search(lambda rate: rate <= 1_037)
    assert list(offered) == [100, 200, 400, 800, 1_200, 1_000, 1_100]
    bracket = Bracket.of(offered)
    assert (bracket.held, bracket.failed) == (1_000, 1_100)
    assert bracket.narrow


def test_whatever_the_true_maximum_the_bracket_holds_it_within_ten_percent() -> None:
    for true_max in (105, 399, 400, 401, 777, 1_234, 4_321):
        bracket = Bracket.of(_search(lambda rate, true_max=true_max: rate <= true_max))
        assert bracket.held <= true_max < (bracket.failed or 0)
        assert (bracket.failed or 0) <= 1.1 * bracket.held


def test_a_flow_that_holds_every_rate_is_searched_up_to_the_limit_only() -> None:
    offered = _search(lambda rate: True, limit=1_000)
    assert list(offered) == [100, 200, 400, 800]
    assert Bracket.of(offered) == Bracket(800, None)


def test_below_the_first_rung_the_search_halves_down_to_ten_orders_a_second() -> None:
    assert list(_search(lambda rate: rate <= 30)) == [100, 50, 30, 40]
    assert Bracket.of(_search(lambda rate: False)) == Bracket(0, 10)


def test_a_failure_below_a_rate_that_held_does_not_stop_the_search_above_it() -> None:
    # 400 failed once (a noisy moment); 600 held after it, so the maximum lies above 600.
    results = {100: True, 200: True, 400: False, 800: False, 600: True}
    assert next_rate(results, 6_000) == 700
