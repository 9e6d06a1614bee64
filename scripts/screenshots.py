"""Regenerate the README's screenshots from the real pages: a throwaway `keyseal serve` on a
free port, a new account with a few keys, and Debian's chromium through Playwright.

    .venv/bin/python scripts/screenshots.py            # docs/screenshots/*.png (desktop)
    .venv/bin/python scripts/screenshots.py --phone /tmp/shots   # a phone-sized viewport

Nothing here is hand-edited: run it again after changing a template."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pyotp
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
KEYSEAL = str(Path(sys.executable).with_name("keyseal"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
EMAIL, PASSWORD, PASSPHRASE = "alice@example.com", "correct horse battery", "Str0ng!pass"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "KEYSEAL_HOME": str(home)}
    process = subprocess.Popen([KEYSEAL, "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(url + "/api/v5/public/time", timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("keyseal serve did not start")


class Authenticator:
    def __init__(self, secret: str) -> None:
        self.totp, self.last = pyotp.TOTP(secret), -1
        self.recovery: list[str] = []

    def code(self) -> str:
        step = int(time.time() // 30)
        for candidate in (step, step + 1):
            if candidate > self.last:
                self.last = candidate
                return str(self.totp.at(candidate * 30))
        return self.recovery.pop()


def create(page: Page, url: str, app: Authenticator, label: str, *, ip: str = "",
           trade: bool = False, withdraw: bool = False, demo: bool = False) -> None:
    page.goto(url + "/keys/new")
    page.get_by_label("Label").fill(label)
    page.get_by_label("Passphrase", exact=True).fill(PASSPHRASE)
    page.get_by_label("IP allow-list").fill(ip)
    if trade:
        page.get_by_label("Trade", exact=False).first.check()
    if withdraw:
        page.locator("#perm-withdraw").check()
    if demo:
        page.locator("#env-demo").check()
    page.get_by_label("Authenticator code").fill(app.code())
    page.get_by_role("button", name="Create key").click()
    page.wait_for_url("**/keys/reveal")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phone", type=Path, help="write phone-sized shots to this folder")
    args = parser.parse_args()
    out = args.phone or ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    viewport = {"width": 390, "height": 844} if args.phone else {"width": 1280, "height": 800}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        process, url = serve(home)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                     args=CHROMIUM_ARGS)
                page = browser.new_page(viewport=viewport, device_scale_factor=1)
                page.on("dialog", lambda dialog: dialog.accept())
                shoot(page, url, home, out)
                browser.close()
        finally:
            process.terminate()
            process.wait(10)
    for name in ("api-keys", "create-key", "reveal"):
        print(out / f"{name}.png")


def shoot(page: Page, url: str, home: Path, out: Path) -> None:
    page.goto(url + "/signup")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password, again").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/keys")
    subprocess.run([KEYSEAL, "account", "set-kyc", EMAIL, "2", "--home", str(home)],
                   check=True, capture_output=True)
    page.goto(url + "/security")
    page.get_by_role("button", name="Set up authenticator app").click()
    app = Authenticator(page.locator("#setup-key").inner_text().strip())
    page.get_by_label("Code from the app").fill(app.code())
    page.get_by_role("button", name="Turn on").click()
    app.recovery = page.locator(".recovery-codes code").all_inner_texts()

    create(page, url, app, "gridbot1", ip="203.0.113.7, 203.0.113.8", trade=True)
    create(page, url, app, "treasury", ip="198.51.100.20", trade=True, withdraw=True)
    create(page, url, app, "sandbox", trade=True, demo=True)
    create(page, url, app, "balances")
    page.screenshot(path=str(out / "reveal.png"), full_page=True)
    page.get_by_label("I have stored").check()
    page.get_by_role("button", name="Done").click()
    page.wait_for_url("**/keys")
    page.screenshot(path=str(out / "api-keys.png"), full_page=True)

    page.goto(url + "/keys/new")
    page.get_by_label("Label").fill("market maker")
    page.get_by_label("Passphrase", exact=True).fill("Weakpass")
    page.get_by_label("IP allow-list").fill("203.0.113.7, 203.0.113.300")
    page.get_by_label("Trade", exact=False).first.check()
    page.get_by_role("button", name="Create key").click()
    page.get_by_label("Passphrase", exact=True).fill("Weakpass1")  # the rules tick as you type
    page.get_by_label("Passphrase", exact=True).press("End")
    page.screenshot(path=str(out / "create-key.png"), full_page=True)


if __name__ == "__main__":
    main()
