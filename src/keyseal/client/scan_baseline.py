"""Known findings, so a scan reports only new ones (detect-secrets' baseline, in our form).

``keyseal scan PATH --update-baseline`` writes ``.keyseal-scan-baseline.json`` with one
entry per finding: its path, rule and fingerprint. A fingerprint is a salted scrypt of the
value (``Finding.fingerprint``), never the value: the file is meant to be committed, and a
slow hash keeps a weak passphrase in it from being guessed quickly. Line numbers are not part
of it, so edits elsewhere in a file do not bring a known finding back.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from keyseal.client.leakscan import Finding

BASELINE_FILE = ".keyseal-scan-baseline.json"


class BadBaseline(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Baseline:
    known: frozenset[tuple[str, str]] = frozenset()  # (path, fingerprint)

    @classmethod
    def load(cls, path: Path) -> Baseline:
        """The baseline in ``path``; an empty one when the file does not exist."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = data["findings"]
            return cls(frozenset((str(e["path"]), str(e["fingerprint"])) for e in entries))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BadBaseline(f"{path} is not a Keyseal scan baseline ({exc}); write a new one "
                              "with --update-baseline") from exc

    def split(self, findings: Iterable[Finding]) -> tuple[list[Finding], list[Finding]]:
        """(new findings, findings the baseline already knows)."""
        new: list[Finding] = []
        known: list[Finding] = []
        for finding in findings:
            (known if (finding.path, finding.fingerprint) in self.known else new).append(finding)
        return new, known


def write_baseline(path: Path, findings: Iterable[Finding]) -> int:
    """Replace the baseline in ``path`` with ``findings``; returns how many it holds."""
    entries = sorted({(f.path, f.rule, f.fingerprint) for f in findings})
    document = {"version": 1, "written_by": "keyseal scan --update-baseline",
                "findings": [{"path": p, "rule": r, "fingerprint": fp} for p, r, fp in entries]}
    fd, temporary = tempfile.mkstemp(prefix=".baseline-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(document, out, indent=2)
        out.write("\n")
    os.replace(temporary, path)
    return len(entries)
