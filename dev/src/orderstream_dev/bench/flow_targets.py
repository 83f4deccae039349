"""What the live flow's load generator sends: `POST /orders` with 1-3 lines over `SKUS`
SKUs, as vegeta's JSON targets (one a line, the body in base64, the API key's header).

A level's file holds one target per request, in the order they are due: those of the
warm-up (a customer of their own) first, then the measured ones, so that the orders of
each can be told apart in the database.
"""

import base64
import json
import random
from collections.abc import Iterable, Iterator

SKUS = 20
ON_HAND = 1_000_000_000


def sku(n: int) -> str:
    return f"sku-{n:03d}"


def bodies(customer: str, count: int, rng: random.Random) -> Iterator[bytes]:
    """`count` orders of `customer`: 1-3 distinct SKUs of `SKUS`, 1-3 units each."""
    for _ in range(count):
        lines = [{"sku": sku(n), "quantity": rng.randint(1, 3)}
                 for n in rng.sample(range(SKUS), rng.randint(1, 3))]
        yield json.dumps({"customer_id": customer, "lines": lines},
                         separators=(",", ":")).encode()


def target_lines(url: str, api_key: str, orders: Iterable[bytes]) -> Iterator[str]:
    """One line of vegeta's JSON targets format per body."""
    header = {"Content-Type": ["application/json"], "Authorization": [f"Bearer {api_key}"]}
    for body in orders:
        yield json.dumps({"method": "POST", "url": url, "header": header,
                          "body": base64.b64encode(body).decode()}) + "\n"


def level_targets(url: str, api_key: str, customers: tuple[str, str], counts: tuple[int, int],
                  seed: int) -> Iterator[str]:
    """The warm-up's targets (`customers[0]`, `counts[0]` of them), then the measured ones."""
    rng = random.Random(seed)
    for customer, count in zip(customers, counts, strict=True):
        yield from target_lines(url, api_key, bodies(customer, count, rng))
