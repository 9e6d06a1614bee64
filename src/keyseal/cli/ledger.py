"""``keyseal ledger …``: sandbox balances."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from keyseal.cli.common import AsJson, Db, Home, lazy, out, print_json, runtime
from keyseal.cli.groups import ledger_app
from keyseal.domain.commands import Credit
from keyseal.domain.keys import Environment
from keyseal.domain.money import fmt
from keyseal.tables import print_table

if TYPE_CHECKING:
    from keyseal.services import ledger as ledger_service
else:
    ledger_service = lazy("keyseal.services.ledger")

Account = Annotated[str, typer.Option("--account", help="Email of the account.")]
Sub = Annotated[str | None, typer.Option("--sub", help="This sub-account of --account.")]
Demo = Annotated[bool, typer.Option("--demo", help="The demo-trading balance.")]


def _owner(account: str, sub: str | None) -> str:
    return f"{account} / {sub}" if sub else account


# -- ledger ------------------------------------------------------------------------------
@ledger_app.command("credit")
def ledger_credit(
    account: Account,
    ccy: Annotated[str, typer.Option(help="Currency, e.g. USDT.")],
    amount: Annotated[str, typer.Option(help="Amount to add, e.g. 1000 or 0.5.")],
    sub: Sub = None, demo: Demo = False,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """Add funds to an account's balance."""
    environment = Environment.DEMO if demo else Environment.LIVE
    with runtime(home, db) as rt:
        balance = ledger_service.credit(rt, Credit(account, ccy, amount, environment=environment,
                                                   sub=sub))
    result = {"ccy": balance.ccy, "cashBal": str(balance.cash), "availBal": str(balance.available),
              "environment": environment.value}
    if as_json:
        print_json(result)
    else:
        out.print(f"{_owner(account, sub)}: {balance.ccy} balance is now {balance.cash} "
                  f"({environment.value})", highlight=False)


@ledger_app.command("balance")
def ledger_balance(
    account: Account, sub: Sub = None, demo: Demo = False,
    home: Home = None, db: Db = None, as_json: AsJson = False,
) -> None:
    """An account's balance in each currency: cash, available and frozen (by open orders)."""
    environment = Environment.DEMO if demo else Environment.LIVE
    with runtime(home, db, reads_only=True) as rt:
        found = ledger_service.balances_of_account(rt, account, sub=sub, environment=environment)
    held = [found[ccy] for ccy in sorted(found)]
    if as_json:
        print_json({"account": account.strip().lower(), "subAcct": sub,
                    "environment": environment.value,
                    "balances": [{"ccy": b.ccy, "cashBal": fmt(b.cash),
                                  "availBal": fmt(b.available), "frozenBal": fmt(b.frozen)}
                                 for b in held]})
        return
    title = f"Balances of {_owner(account, sub)} ({environment.value})"
    if not held:
        out.print(f"{title}: none yet; add funds with `keyseal ledger credit`", highlight=False)
        return
    print_table(out, ("ccy", "cash", "available", "frozen"),
                [(b.ccy, fmt(b.cash), fmt(b.available), fmt(b.frozen)) for b in held],
                title=title)
