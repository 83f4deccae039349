"""The bare endpoint: FastAPI with the same request and response models as `POST
/orders`, served by uvicorn as `orderstream serve` serves the API, and no database.

    python -m orderstream_dev.bench.bare_api PORT
"""

import sys
import uuid
from typing import Any

import uvicorn
from fastapi import FastAPI, Response

from adapters.http.schemas import OrderAccepted, PlaceOrderRequest


def create_app() -> FastAPI:
    app = FastAPI(title="bare")

    @app.post("/orders", status_code=202, response_model=OrderAccepted)
    async def place_order(body: PlaceOrderRequest, response: Response) -> Any:
        order_id = str(uuid.uuid4())
        response.headers["Location"] = f"/orders/{order_id}"
        return OrderAccepted(id=order_id, status="pending").model_dump(mode="json")

    return app


def main() -> None:
    uvicorn.run("orderstream_dev.bench.bare_api:create_app", factory=True, host="127.0.0.1",
                port=int(sys.argv[1]), log_config=None, proxy_headers=False,
                server_header=False)


if __name__ == "__main__":
    main()
