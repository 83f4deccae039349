"""The live flow's targets file: vegeta's JSON format, the orders the API takes, the
warm-up's first and the measured ones after."""

import base64
import json
import re
from collections import Counter

from orderstream_dev.bench.flow_rates import GENERATOR
from orderstream_dev.bench.flow_targets import SKUS, level_targets, sku
from orderstream_dev.bench.vegeta import SOURCE

URL = "http://127.0.0.1:8123/orders"


def _targets(counts: tuple[int, int] = (3, 5), seed: int = 7) -> list[dict]:
    lines = list(level_targets(URL, "k3y", ("warm", "measured"), counts, seed))
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    return [json.loads(line) for line in lines]


def test_each_target_posts_an_order_with_the_api_key_in_vegetas_json_format() -> None:
    target = _targets()[0]
    assert set(target) == {"method", "url", "header", "body"}
    assert (target["method"], target["url"]) == ("POST", URL)
    assert target["header"] == {"Content-Type": ["application/json"],
                                "Authorization": ["Bearer k3y"]}
    order = json.loads(base64.b64decode(target["body"], validate=True))
    assert set(order) == {"customer_id", "lines"}


def test_the_warm_up_orders_come_first_under_a_customer_of_their_own() -> None:
    customers = [json.loads(base64.b64decode(t["body"]))["customer_id"] for t in _targets()]
    assert customers == ["warm"] * 3 + ["measured"] * 5


def test_orders_have_one_to_three_distinct_lines_of_one_to_three_units_over_twenty_skus() -> None:
    orders = [json.loads(base64.b64decode(t["body"])) for t in _targets((0, 2_000))]
    sizes = Counter(len(order["lines"]) for order in orders)
    skus = Counter(line["sku"] for order in orders for line in order["lines"])
    units = Counter(line["quantity"] for order in orders for line in order["lines"])
    assert set(sizes) == {1, 2, 3}
    assert set(skus) == {sku(n) for n in range(SKUS)} and SKUS == 20
    assert set(units) == {1, 2, 3}
    assert all(len({line["sku"] for line in order["lines"]}) == len(order["lines"])
               for order in orders)


def test_the_same_seed_gives_the_same_file() -> None:
    assert _targets(seed=3) == _targets(seed=3)
    assert _targets(seed=3) != _targets(seed=4)


def test_the_generator_the_page_names_is_the_version_go_mod_pins() -> None:
    required = re.search(r"^require github.com/tsenart/vegeta/v12 (v\S+)$",
                         (SOURCE / "go.mod").read_text(), re.MULTILINE)
    assert required is not None
    assert GENERATOR.startswith(f"vegeta {required.group(1)} ")
    assert f"github.com/tsenart/vegeta/v12 {required.group(1)} h1:" in (
        SOURCE / "go.sum").read_text()
