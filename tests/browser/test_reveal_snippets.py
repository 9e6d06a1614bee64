"""The snippets beside the one-time reveal run as they are shown: the plain-Python one (hmac
and urllib only) and the ccxt one each make the signed balance call and get code 0, with the
three values in the environment variables the page names."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from tests.browser.conftest import Dashboard, enrol_totp, sign_up
from tests.browser.test_dashboard import create_key
from tests.conftest import new_email

pytestmark = pytest.mark.compat


def test_the_snippets_beside_the_reveal_run(page: Any, dashboard: Dashboard) -> None:
    email = new_email()
    sign_up(page, dashboard.url, email)
    dashboard.verify_kyc(email)
    codes = enrol_totp(page, dashboard.url)
    page.goto(dashboard.url + "/keys")
    key = create_key(page, codes, "snippet1")
    plain, with_ccxt = page.locator("pre code").all_inner_texts()[:2]
    env = {**os.environ, "OKX_API_KEY": key["apiKey"], "OKX_SECRET_KEY": key["secretKey"],
           "OKX_PASSPHRASE": key["passphrase"]}
    ran = subprocess.run([sys.executable, "-c", plain], env=env, capture_output=True, text=True,
                         timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert "'code': '0'" in ran.stdout, ran.stdout
    ran = subprocess.run([sys.executable, "-c", with_ccxt], env=env, capture_output=True,
                         text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.strip().startswith("{"), ran.stdout  # the balance's totals
