"""Find OKX-style credentials in files and in git history, with few false alarms.

An OKX key is a UUID and its secret 32 hex digits; each alone is everywhere (request ids,
MD5 sums, lockfiles), so neither alone is a find. A find needs credential context:

* ``key-and-secret``: a UUID and a 32-hex secret within a few lines of each other;
* ``okx-variable``: a value assigned to an OKX-named variable (``OKX_API_KEY=…``,
  ``OK-ACCESS-PASSPHRASE: …``);
* ``credential-assignment``: a generic credential name holding an OKX-shaped value
  (``api_key = "<uuid>"``, ``secret: <32 hex>``), and a ``passphrase``/``password`` next to
  another find.

Lines that speak of hashes (md5, sha, integrity, checksum, commit…) never yield a secret, and
placeholders (``your-api-key``, ``xxxx``, ``****``, ``${VAR}``) are not values.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from keyseal.client.masking import mask
from keyseal.client.scan_ignore import IgnoreRules

#: How many lines apart a key and its secret (or passphrase) may be.
WINDOW = 5
MAX_FILE_BYTES = 4 * 1024 * 1024
SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", "site-packages", "dist-packages",
    "bower_components", ".cache",
})
BINARY_SUFFIXES = frozenset({
    ".png", ".jpg", ".jpeg", ".gif", ".ico", ".pdf", ".zip", ".gz", ".tgz", ".bz2", ".xz",
    ".whl", ".so", ".dylib", ".dll", ".exe", ".pyc", ".pyo", ".class", ".jar", ".sqlite",
    ".db", ".woff", ".woff2", ".ttf", ".mp3", ".mp4", ".mov",
})

UUID = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"
                  r"(?![0-9A-Za-z])")
HEX32 = re.compile(r"(?<![0-9A-Za-z])[0-9A-Fa-f]{32}(?![0-9A-Za-z])")
HASH_WORDS = re.compile(r"md5|sha\d*|hash|checksum|integrity|digest|etag|commit|fingerprint|"
                        r"revision|\brev\b|object|blob|tree|crc", re.IGNORECASE)
SECRET_WORDS = re.compile(r"secret|okx|okex|api|private|\bsk\b", re.IGNORECASE)
ASSIGNMENT = re.compile(r"""(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)\\?["']?\s*(?:=>|=|:)\s*"""
                        r"""(?P<quote>\\?["']?)(?P<value>[^\s"'\\,;`]+)""")
OKX_NAME = re.compile(r"^(?:okx|okex|ok)(?:access|api)*(?:key|secret|secretkey|passphrase|"
                      r"password|pass)$")
KEY_NAMES = frozenset({"apikey", "accesskey", "key"})
SECRET_NAMES = frozenset({"secret", "secretkey", "apisecret", "apisecretkey", "accesssecret"})
PASSPHRASE_NAMES = frozenset({"passphrase", "password", "apipassphrase", "pass"})
PLACEHOLDER_WORDS = re.compile(r"your|example|placeholder|change.?me|dummy|sample|replace|"
                               r"redacted|xxx|\*\*\*|todo|fixme|insert|secret_here|<|>",
                               re.IGNORECASE)
REFERENCE = re.compile(r"[$(){}\[\]%]|^(?:os\.|env\.|process\.env|getenv|environ|settings\.|"
                       r"config\.|self\.|args\.)", re.IGNORECASE)
DOTTED_NAME = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")
#: Source files, where an unquoted value is an expression (``creds.api_key``), not a literal.
CODE_SUFFIXES = frozenset({".py", ".pyi", ".ipynb", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx",
                           ".go", ".rs", ".java", ".kt", ".rb", ".php", ".cs", ".swift",
                           ".scala", ".c", ".h", ".cpp", ".hpp"})
#: Credentials published in OKX's docs and SDK tests as examples: known, so not leaks.
DOCUMENTED_EXAMPLES = frozenset({"22582bd0cff14c41edbf1ab98506286d",
                                 "db4f607380aa04313bb0dedbfe576ff1",
                                 "faf24bd1-dc25-45ab-9f78-ebfea58614bd"})
COMMON_WORDS = frozenset({"none", "null", "nil", "true", "false", "test", "string", "str",
                          "tbd", "required", "optional", "secret", "password", "passphrase",
                          "apikey", "api_key", "key", "value", "empty"})


@dataclass(frozen=True, slots=True)
class Finding:
    """One credential found: where, by which rule, and the secret masked."""

    path: str
    line: int
    rule: str
    masked: str
    detail: str = ""
    cell: int | None = None
    commit: str | None = None
    #: a salted scrypt of the value, to recognise it again (scan_baseline); never the value
    fingerprint: str = ""

    def location(self) -> str:
        where = f"{self.path}:{self.line}" if self.cell is None \
            else f"{self.path}:cell {self.cell}:{self.line}"
        return f"{self.commit[:12]}:{where}" if self.commit else where

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "location": self.location()}


@dataclass(frozen=True, slots=True)
class _Hit:
    line: int
    rule: str
    value: str
    detail: str = ""


def is_placeholder(value: str) -> bool:
    """Not a credential: too short, too repetitive to be random, a word, or a reference."""
    core = value.strip("\"'")
    distinct = len(set(core.lower()) - {"-"})
    return (len(core) < 4 or distinct <= 2 or (len(core) >= 24 and distinct <= 8)
            or core.lower() in COMMON_WORDS or core.lower() in DOCUMENTED_EXAMPLES
            or bool(PLACEHOLDER_WORDS.search(core)) or bool(REFERENCE.search(core))
            or bool(DOTTED_NAME.match(core)))


def scan_lines(lines: Iterable[tuple[int, str]], *, code: bool = False) -> list[_Hit]:
    """Findings in numbered lines of one text (a file, a notebook cell, a diff's new side).

    ``code``: the text is source code, so only quoted values are literals.
    """
    keys: list[tuple[int, str]] = []
    secrets: list[tuple[int, str]] = []
    hits: list[_Hit] = []
    passphrases: list[tuple[int, str, str]] = []
    for number, text in lines:
        hashy = bool(HASH_WORDS.search(text))
        keys.extend((number, m.group()) for m in UUID.finditer(text)
                    if not is_placeholder(m.group()))
        if not hashy:
            secrets.extend((number, m.group()) for m in HEX32.finditer(text)
                           if not is_placeholder(m.group())
                           and (m.group().isupper() or m.group().isdigit()
                                or SECRET_WORDS.search(text)))
        for match in ASSIGNMENT.finditer(text):
            if code and not match.group("quote"):
                continue
            hit = _assignment(number, match.group("name"), match.group("value"), hashy)
            if isinstance(hit, _Hit):
                hits.append(hit)
            elif hit is not None:
                passphrases.append((number, hit, match.group("name")))
    for number, secret in secrets:
        near = [key for line, key in keys if abs(line - number) <= WINDOW]
        if near:
            hits.append(_Hit(number, "key-and-secret", secret,
                             f"secret next to API key {mask(near[0], 8, 4)}"))
    anchors = [hit.line for hit in hits]
    for number, value, name in passphrases:
        if any(abs(line - number) <= WINDOW for line in anchors):
            hits.append(_Hit(number, "credential-assignment", value, f"{name} beside a key"))
    return _dedupe(hits)


def _assignment(number: int, name: str, value: str, hashy: bool) -> _Hit | str | None:
    """A hit, a passphrase candidate (its value), or nothing."""
    normal = re.sub(r"[_.\-]", "", name).lower()
    if is_placeholder(value):
        return None
    if OKX_NAME.match(normal):
        return _Hit(number, "okx-variable", value, name)
    if normal in KEY_NAMES and UUID.fullmatch(value):
        return _Hit(number, "credential-assignment", value, name)
    if normal in SECRET_NAMES and HEX32.fullmatch(value) and not hashy:
        return _Hit(number, "credential-assignment", value, name)
    if normal in PASSPHRASE_NAMES:
        return value
    return None


def _dedupe(hits: list[_Hit]) -> list[_Hit]:
    """One finding per value and line; an OKX-named variable beats a generic rule."""
    order = {"okx-variable": 0, "credential-assignment": 1, "key-and-secret": 2}
    best: dict[tuple[int, str], _Hit] = {}
    for hit in hits:
        slot = (hit.line, hit.value)
        if slot not in best or order[hit.rule] < order[best[slot].rule]:
            best[slot] = hit
    return sorted(best.values(), key=lambda h: (h.line, h.value))


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file the scan did not read, and why."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class ScanReport:
    findings: list[Finding]
    skipped: list[Skipped]


def fingerprint(path: str, value: str) -> str:
    """Slow and salted by the path: a committed baseline must not let weak values be guessed."""
    return hashlib.scrypt(value.encode(), salt=b"keyseal-scan:" + path.encode(),
                          n=2**14, r=8, p=1, dklen=20).hex()


def _findings(path: str, hits: list[_Hit], *, cell: int | None = None,
              commit: str | None = None) -> list[Finding]:
    return [Finding(path, h.line, h.rule, mask(h.value), h.detail, cell, commit,
                    fingerprint(path, h.value)) for h in hits]


# -- files -------------------------------------------------------------------------------------

def iter_files(root: Path, ignore: IgnoreRules = IgnoreRules()
               ) -> Iterator[tuple[Path, str, str | None]]:
    """Each file under ``root`` (or ``root`` itself): its path, the path shown (relative to
    ``root``), and why it is not read (None: read it). VCS, dependency and virtualenv folders
    and ignored paths are not walked at all."""
    if root.is_file():
        yield root, str(root), None
        return
    for directory, subdirs, files in os.walk(root):
        here = Path(directory)
        subdirs[:] = sorted(d for d in subdirs if d not in SKIP_DIRS
                            and not (here / d / "pyvenv.cfg").exists()
                            and not ignore.ignores((here / d / "x").relative_to(root).as_posix()))
        for name in sorted(files):
            path = here / name
            shown = path.relative_to(root).as_posix()
            if ignore.ignores(shown):
                continue
            if path.is_symlink():
                yield path, shown, "symbolic link, not followed"
            elif path.suffix.lower() in BINARY_SUFFIXES:
                yield path, shown, "binary (by its name)"
            else:
                yield path, shown, None


def read_text(path: Path) -> str | Skipped:
    """The file as text, or why it cannot be scanned: a binary, or too large for
    configuration, or unreadable."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return Skipped(str(path), f"larger than {MAX_FILE_BYTES // 2**20} MiB")
        data = path.read_bytes()
    except OSError as exc:
        return Skipped(str(path), f"unreadable: {exc.strerror or exc}")
    if b"\0" in data[:8192]:
        return Skipped(str(path), "binary (NUL bytes)")
    return data.decode("utf-8", errors="replace")


def is_code(path: str | Path) -> bool:
    return Path(path).suffix.lower() in CODE_SUFFIXES


def scan_text(display: str, text: str) -> list[Finding]:
    lines = enumerate(text.splitlines(), start=1)
    return _findings(display, scan_lines(lines, code=is_code(display)))


def scan_notebook(display: str, text: str) -> list[Finding]:
    """Scan each cell's source and text outputs, numbered by cell (from 1) and line."""
    try:
        cells = json.loads(text).get("cells", [])
    except (ValueError, AttributeError):
        return scan_text(display, text)
    findings: list[Finding] = []
    for index, cell in enumerate(cells, start=1):
        for block, code in _cell_texts(cell):
            hits = scan_lines(enumerate(block.splitlines(), start=1), code=code)
            findings += _findings(display, hits, cell=index)
    return findings


def _cell_texts(cell: Any) -> Iterator[tuple[str, bool]]:
    """(text, is source code) of a cell's source and of its text outputs."""
    def joined(value: Any) -> str:
        return "".join(value) if isinstance(value, list) else str(value or "")

    if not isinstance(cell, dict):
        return
    yield joined(cell.get("source")), cell.get("cell_type") == "code"
    for output in cell.get("outputs") or ():
        if isinstance(output, dict):
            yield joined(output.get("text")), False
            yield joined((output.get("data") or {}).get("text/plain")), False


def scan_path(root: Path, ignore: IgnoreRules = IgnoreRules()) -> ScanReport:
    """Every finding in the files under ``root`` (or in the file ``root``), and the files
    that could not be read."""
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    for path, display, reason in iter_files(root, ignore):
        text = read_text(path) if reason is None else Skipped(display, reason)
        if isinstance(text, Skipped):
            skipped.append(Skipped(display, text.reason))
            continue
        if path.suffix.lower() == ".ipynb":
            findings += scan_notebook(display, text)
        else:
            findings += scan_text(display, text)
    return ScanReport(findings, skipped)


# -- git history -----------------------------------------------------------------------------

class NotAGitRepository(Exception):
    pass


def scan_git_history(root: Path, ignore: IgnoreRules = IgnoreRules()) -> list[Finding]:
    """Findings in lines added by any commit of any ref, each reported at its first commit.
    ``ignore``'s paths are relative to the repository's top folder."""
    probe = subprocess.run(["git", "-C", str(root), "rev-parse", "--git-dir"],
                           capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        raise NotAGitRepository(f"{root} is not inside a git repository")
    command = ["git", "-C", str(root), "log", "-p", "--all", "--reverse", "--no-color",
               "--no-ext-diff", "--no-renames", "--format=%x00commit %H"]
    findings: list[Finding] = []
    seen: set[tuple[str, str, str]] = set()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as git:
        assert git.stdout is not None
        for commit, path, added, context in _diff_files(git.stdout):
            if (not added or any(part in SKIP_DIRS for part in Path(path).parts)
                    or ignore.ignores(path)):
                continue
            lines = sorted({**context, **added}.items())
            hits = [h for h in scan_lines(lines, code=is_code(path)) if h.line in added]
            for finding in _findings(path, hits, commit=commit):
                if (finding.path, finding.rule, finding.masked) not in seen:
                    seen.add((finding.path, finding.rule, finding.masked))
                    findings.append(finding)
    return findings


HUNK = re.compile(rb"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def _diff_files(stream: Iterable[bytes]) -> Iterator[tuple[str, str, dict[int, str],
                                                           dict[int, str]]]:
    """(commit, path, added lines, context lines) per file per commit of ``git log -p``."""
    commit, path, in_header = "", None, False
    added: dict[int, str] = {}
    context: dict[int, str] = {}
    number = 0
    for raw in stream:
        if raw.startswith(b"\0commit "):
            if path:
                yield commit, path, added, context
            commit, path, added, context = raw[8:].strip().decode(), None, {}, {}
        elif raw.startswith(b"diff --git "):
            if path:
                yield commit, path, added, context
            path, added, context, in_header = None, {}, {}, True
        elif in_header and raw.startswith(b"+++ "):
            target = raw[4:].rstrip(b"\n").decode("utf-8", errors="replace")
            path = target[2:] if target.startswith("b/") else None
        elif (hunk := HUNK.match(raw)) is not None:
            number, in_header = int(hunk.group(1)), False
        elif path and not in_header and raw[:1] in (b"+", b" "):
            text = raw[1:].rstrip(b"\r\n").decode("utf-8", errors="replace")
            (added if raw[:1] == b"+" else context)[number] = text
            number += 1
    if path:
        yield commit, path, added, context
