"""50035 asks for a real IP binding: a master key whose stored list admits every address
(written when ``1.2.3.4/0`` still meant ``0.0.0.0/0``) is not bound."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.api.conftest import Api
from tests.api.test_subaccount_endpoints import SUB_APIKEY, SUB_PASS, family, ok, refused


@pytest.mark.parametrize("legacy", ["127.0.0.1/0", "0.0.0.0/0"])
async def test_a_master_key_bound_to_every_address_is_refused_50035(api: Api, legacy: str) -> None:
    fam = family(api)
    with api.rt.db.write() as conn:
        conn.execute(text("UPDATE api_keys SET ips = :ips WHERE api_key = :k"),
                     {"ips": legacy, "k": fam.admin["apiKey"]})
    body = {"subAcct": "alpha01", "label": "bot9", "passphrase": SUB_PASS, "perm": "trade"}
    refused(await fam.post(SUB_APIKEY, body), "50035", 403)
    assert ok(await fam.get(f"{SUB_APIKEY}?subAcct=alpha01")) == []  # reading needs no binding
