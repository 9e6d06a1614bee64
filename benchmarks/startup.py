"""How long ``keyseal`` takes to start and answer, per kind of command.

A CLI that takes a second to print its help feels broken. The key holder's commands
(``--help``, ``scan``, ``vault …``) load nothing of the server; ``key list`` opens the database.
Each figure is the median wall time of fresh processes, next to a bare ``python -c pass``
measured in the same run (the least any Python command costs here).

Aims on a 2-core machine: under 0.3 s for the key holder's commands, under 0.6 s for
``key list``.

Run: ``.venv/bin/python benchmarks/startup.py [--rounds N] [--json]``. Nothing here gates CI.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KEYSEAL = str(Path(sys.executable).parent / "keyseal")


def median_seconds(command: list[str], env: dict[str, str], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def prepare(home: Path, env: dict[str, str]) -> None:
    """A home with one account and one key, and a vault with one entry."""
    def run(*args: str, stdin: str = "") -> None:
        subprocess.run([KEYSEAL, *args], env=env, input=stdin, text=True, check=True,
                       capture_output=True)

    run("init")
    run("account", "create", "bench@example.com", "--kyc-level", "2", stdin="a long password\n")
    run("key", "create", "--account", "bench@example.com", "--label", "bench1",
        stdin="Sandbox-Pass1\n")
    made = json.loads(subprocess.run(
        [KEYSEAL, "key", "create", "--account", "bench@example.com", "--label", "bench2",
         "--json"], env=env, input="Sandbox-Pass1\n", text=True, check=True,
        capture_output=True).stdout)
    lines = [made["apiKey"], made["secretKey"], made["passphrase"]]
    run("vault", "add", "bench", stdin="\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "empty").mkdir()
        env = {**os.environ, "KEYSEAL_HOME": str(root / "home"),
               "KEYSEAL_VAULT": str(root / "vault"), "KEYSEAL_VAULT_PASSWORD": "bench-password"}
        env.pop("KEYSEAL_DB", None)
        prepare(root / "home", env)
        commands = {
            "python -c pass (baseline)": [sys.executable, "-c", "pass"],
            "keyseal --help": [KEYSEAL, "--help"],
            "keyseal scan EMPTY_DIR": [KEYSEAL, "scan", str(root / "empty")],
            "keyseal vault list": [KEYSEAL, "vault", "list"],
            "keyseal key list --account": [KEYSEAL, "key", "list", "--account",
                                           "bench@example.com"],
        }
        figures = {name: median_seconds(command, env, args.rounds)
                   for name, command in commands.items()}
    baseline = figures["python -c pass (baseline)"]
    if args.json:
        print(json.dumps({name: round(s, 4) for name, s in figures.items()}))
        return
    print(f"median of {args.rounds} fresh processes each")
    for name, seconds in figures.items():
        print(f"  {name:34} {seconds:6.3f} s   {seconds / baseline:5.1f}× python")


if __name__ == "__main__":
    main()
