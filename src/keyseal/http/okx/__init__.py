"""The OKX V5 REST surface, one module per endpoint family."""

from keyseal.http.okx import account, asset, public, subaccount, trade
from keyseal.http.routes import Route


def all_routes() -> list[Route]:
    return [*public.table.routes, *account.table.routes, *asset.table.routes,
            *trade.table.routes, *subaccount.table.routes]
