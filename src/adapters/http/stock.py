"""`PUT /stock/{sku}`, `GET /stock/{sku}` and `GET /stock`."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Security

from adapters.fields import MAX_SKU_LENGTH, SKU_PATTERN
from adapters.http.links import STOCK_LINKS, links
from adapters.http.problems import ProblemError, declared
from adapters.http.schemas import StockLevelRequest, StockOut, StockPage
from adapters.http.services import Allowed, Caller
from domain.commands import SetStockLevel

router = APIRouter(tags=["stock"])

SkuPath = Annotated[str, Path(min_length=1, max_length=MAX_SKU_LENGTH, pattern=SKU_PATTERN,
                              description="The SKU.", examples=["keyboard"])]
MAX_PAGE = 500
Writer = Annotated[Caller, Security(Allowed("stock:write"))]
Reader = Annotated[Caller, Security(Allowed("stock:read"))]


@router.put("/stock/{sku}", response_model=StockOut, operation_id="set_stock_level",
            responses={**declared(400, 401, 403, 409, 413, 415, 422, 500, 503),
                       **links(200, **STOCK_LINKS)})
async def set_stock_level(
    sku: SkuPath,
    body: StockLevelRequest,
    writer: Writer,
) -> StockOut:
    """Set how many units of `sku` are on hand (creates the SKU). 409 below what is reserved."""
    item = await writer.api.commands.handle(SetStockLevel(sku=sku, on_hand=body.on_hand))
    return StockOut.of(item)


@router.get("/stock/{sku}", response_model=StockOut, operation_id="get_stock_item",
            responses={**declared(401, 403, 404, 422, 500, 503), **links(200, **STOCK_LINKS)})
async def get_stock_item(
    sku: SkuPath,
    reader: Reader,
) -> StockOut:
    item = await reader.api.reads.stock_item(sku)
    if item is None:
        raise ProblemError(404, "not-found", "Not found", f"no stock item {sku!r}")
    return StockOut.of(item)


@router.get("/stock", response_model=StockPage, operation_id="list_stock",
            responses=declared(401, 403, 422, 500, 503))
async def list_stock(
    request: Request,
    reader: Reader,
    after: Annotated[str | None, Query(min_length=1, max_length=MAX_SKU_LENGTH,
                                       pattern=SKU_PATTERN,
                                       description="Start after this SKU.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> StockPage:
    """Stock items in SKU order, `limit` at a time; `next` links the following page."""
    items = await reader.api.reads.stock_page(after=after, limit=limit)
    following = None
    if len(items) == limit:
        following = str(request.url.include_query_params(after=items[-1].sku, limit=limit))
        following = following[following.index("/stock"):]
    return StockPage(items=[StockOut.of(item) for item in items], next=following)
