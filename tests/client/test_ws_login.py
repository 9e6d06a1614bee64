"""The WebSocket login frame, byte for byte (the live tests cover the exchange itself)."""

from __future__ import annotations

import json

from keyseal.client import Credentials
from keyseal.client.ws import login_message

#: The example secret of OKX's docs and the WS vector computed for it in okx-v5-spec.md §1.8.
DOC_SECRET = "22582BD0CFF14C41EDBF1AB98506286D"
DOC_SIGN = "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M="


def test_login_frame_signs_unix_seconds_as_a_string() -> None:
    creds = Credentials("key-id", DOC_SECRET, "my-passphrase")
    frame = login_message(creds, 1538054050.987)
    assert frame == ('{"op":"login","args":[{"apiKey":"key-id","passphrase":"my-passphrase",'
                     f'"timestamp":"1538054050","sign":"{DOC_SIGN}"}}]}}')
    assert json.loads(frame)["args"][0]["timestamp"] == "1538054050"
