"""``keyseal ledger …``: sandbox balances."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from keyseal.cli.common import AsJson, Db, Home, lazy, out, print_json, runtime
from keyseal.cli.groups import ledger_app
from keyseal.domain.commands import Credit
from keyseal.domain.keys import Environment

if TYPE_CHECKING:
    from keyseal.services import ledger as ledger_service
else:
    ledger_service = lazy("keyseal.services.ledger")

# -- ledger ------------------------------------------------------------------------------
@ledger_app.command("credit")
def ledger_credit(
    account: Annotated[str, typer.Option("--account", help="Email of the account.")],
    ccy: Annotated[str, typer.Option(help="Currency, e.g. USDT.")],
    amount: Annotated[str, typer.Option(help="Amount to add, e.g. 1000 or 0.5.")],
    demo: Annotated[bool, typer.Option("--demo", help="Credit the demo-trading balance.")
                    ] = False,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Add funds to an account's balance."""
    with runtime(home, db) as rt:
        environment = Environment.DEMO if demo else Environment.LIVE
        balance = ledger_service.credit(rt, Credit(account, ccy, amount, environment=environment))
    result = {"ccy": balance.ccy, "cashBal": str(balance.cash), "availBal": str(balance.available),
              "environment": environment.value}
    if as_json:
        print_json(result)
    else:
        out.print(f"{account}: {balance.ccy} balance is now {balance.cash} "
                  f"({environment.value})")
