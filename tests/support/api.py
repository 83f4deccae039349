"""The API as the in-process tests configure it: API keys of different scopes, the header
that presents one, and an order placed through the API."""

import uuid

import httpx

from adapters.http.auth import hash_key

ALL_SCOPES = ["orders:write", "orders:read", "stock:write", "stock:read"]

# name -> (key, scopes); `writer` and `other` are two clients with every scope.
KEYS = {
    "writer": ("key-writer-0123456789", ALL_SCOPES),
    "other": ("key-other-0123456789", ALL_SCOPES),
    "reader": ("key-reader-0123456789", ["orders:read", "stock:read"]),
    "stocker": ("key-stocker-0123456789", ["stock:write", "stock:read"]),
}


def api_keys() -> list[dict]:
    """The `api_keys` setting that accepts every key of `KEYS`."""
    return [{"name": name, "sha256": hash_key(key), "scopes": scopes}
            for name, (key, scopes) in KEYS.items()]


def auth(name: str = "writer") -> dict[str, str]:
    """The header that presents the key of client `name`."""
    return {"Authorization": f"Bearer {KEYS[name][0]}"}


def order_body(customer_id: str, quantity: int = 1) -> dict:
    """The body of `POST /orders`: one line of `quantity` of KB-1."""
    return {"customer_id": customer_id, "lines": [{"sku": "KB-1", "quantity": quantity}]}


async def placed(client: httpx.AsyncClient, order: dict | None = None) -> str:
    """The id of an order placed through the API (`order`, else one line of a new customer)."""
    order = order or order_body(f"c-{uuid.uuid4().hex[:8]}")
    response = await client.post("/orders", headers=auth(), json=order)
    assert response.status_code == 202, response.text
    return response.json()["id"]
