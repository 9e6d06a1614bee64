"""``keyseal sign``: the signature of a request about to be sent, and with ``--explain`` what
it hashes, part by part, in the shape a Keyseal server's 50113 ``explain`` has; ``--against``
compares the two and says which part differs.

The key holder's side: it loads nothing of the server. The secret comes from standard input
or a vault entry, never from an argument (arguments end up in shell history and ``ps``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from keyseal.cli.common import read_secret
from keyseal.cli.groups import app
from keyseal.client.cli import VaultOption, _get, _open
from keyseal.client.errors import InvalidSignature
from keyseal.signing import explain, format_timestamp, parse_timestamp, sign_request


@app.command("sign")
def sign_command(
    method: Annotated[str, typer.Argument(help="GET or POST.")],
    target: Annotated[str, typer.Argument(
        help="The request target as it will be sent: path and ?query, e.g. "
             "/api/v5/account/balance?ccy=BTC")],
    body: Annotated[str, typer.Option(help="The body exactly as it will be sent.")] = "",
    timestamp: Annotated[str | None, typer.Option(
        help="The OK-ACCESS-TIMESTAMP to sign, e.g. 2020-12-08T09:08:57.715Z (default: now).")
    ] = None,
    show_explain: Annotated[bool, typer.Option(
        "--explain", help="Print each part of the prehash, as a Keyseal server reports it "
                          "on 50113.")] = False,
    against: Annotated[str | None, typer.Option(
        help="The server's 50113 answer (or its explain object), as JSON: say which part "
             "differs. Exits 1 when one does.")] = None,
    vault_entry: Annotated[str | None, typer.Option(
        "--vault-entry", help="Take the secret from this vault entry (else from stdin).")
    ] = None,
    vault_path: VaultOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the OK-ACCESS-SIGN of a request, and with --explain what it hashes: timestamp,
    method, target as sent and percent-decoded, the body's length and SHA-256, and the
    prehash. The secret is never printed."""
    stamp = timestamp if timestamp is not None else format_timestamp(time.time())
    try:
        parse_timestamp(stamp)
    except (ValueError, OverflowError):
        raise typer.BadParameter("not an ISO-8601 timestamp such as 2020-12-08T09:08:57.715Z",
                                 param_hint="--timestamp") from None
    server = _server_explanation(against) if against is not None else None
    secret = _secret(vault_entry, vault_path)
    local = explain(stamp, method, target, body)
    signature = sign_request(secret, stamp, method.upper(), target, body)
    differing: list[str] = []
    verdict = ""
    if server is not None:
        refusal = InvalidSignature("50113", "Invalid Sign", extra={"explain": server})
        differing = refusal.compare(local)
        verdict = refusal.describe(local)
    if as_json:
        shown: dict[str, Any] = {"signature": signature}
        if show_explain or server is not None:
            shown["explain"] = local
        if server is not None:
            shown["differs"] = differing
        typer.echo(json.dumps(shown, ensure_ascii=False))
    else:
        out = Console(highlight=False, soft_wrap=True)
        if show_explain:
            _print_parts(out, local)
        out.print(f"signature       {signature}")
        if verdict:
            out.print(escape(verdict))
    if differing:
        raise typer.Exit(1)


def _print_parts(out: Console, parts: dict[str, str]) -> None:
    out.print(f"timestamp       {escape(parts['timestamp'])}")
    out.print(f"method          {escape(parts['method'])}")
    out.print(f"target          {escape(parts['target'])}")
    if parts["decodedTarget"] != parts["target"]:
        out.print(f"decoded target  {escape(parts['decodedTarget'])}  (a Keyseal server "
                  "accepts either)")
    out.print(f"body            {parts['bodyLength']} bytes, SHA-256 {parts['bodySha256']}")
    out.print(f"prehash         {escape(json.dumps(parts['prehash'], ensure_ascii=False))}")


def _server_explanation(text: str) -> dict[str, str]:
    try:
        given = json.loads(text)
    except ValueError:
        raise typer.BadParameter("not JSON", param_hint="--against") from None
    if isinstance(given, dict) and isinstance(given.get("explain"), dict):
        given = given["explain"]
    if not isinstance(given, dict) or "prehash" not in given:
        raise typer.BadParameter("give the server's 50113 answer or its explain object "
                                 "(this server did not explain: a live key without "
                                 "explain_signatures, or OKX)", param_hint="--against")
    return {str(name): str(value) for name, value in given.items()}


def _secret(vault_entry: str | None, vault_path: Path | None) -> str:
    if vault_entry is None:
        return read_secret("secret key", confirm=False)
    vault, _ = _open(vault_path)
    return _get(vault, vault_entry).credentials.secret_key
