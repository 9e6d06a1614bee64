"""The request path's parsers read one way only: what a lenient parser would also accept
(unicode digits, underscores, padding, repeated keys) is refused."""

from __future__ import annotations

import pytest

from keyseal import errors
from keyseal.domain.money import parse_amount
from keyseal.http import strict_json
from keyseal.signing import parse_timestamp, parse_ws_timestamp


@pytest.mark.parametrize("value", ["１５３８０５４０５０", "1_538_054_050", " 1538054050 ",
                                   "1538054050\n", "1e9", "+1538054050", "nan", "inf"])
def test_a_websocket_login_timestamp_is_plain_ascii_seconds(value: str) -> None:
    with pytest.raises(ValueError):
        parse_ws_timestamp(value)


def test_websocket_timestamps_as_clients_send_them_still_parse() -> None:
    assert parse_ws_timestamp("1538054050") == 1538054050.0
    assert parse_ws_timestamp("1538054050.975") == 1538054050.975
    assert parse_ws_timestamp(1538054050) == 1538054050.0


def test_a_rest_timestamp_with_non_ascii_digits_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_timestamp("２０２０-12-08T09:08:57.715Z")


@pytest.mark.parametrize("text", ['{"a": 1, "a": 2}', '[{"x": {"b": 1, "b": 1}}]',
                                  '{"a": {"c": 1}, "b": 2, "a": 3}'])
def test_an_object_that_repeats_a_key_is_refused(text: str) -> None:
    with pytest.raises(errors.OkxError) as refused:
        strict_json.loads(text.encode())
    assert refused.value.code == "70016"


def test_the_same_key_in_two_objects_is_not_a_repeat() -> None:
    assert strict_json.loads(b'[{"a": 1}, {"a": 2}]') == [{"a": 1}, {"a": 2}]
    assert strict_json.loads(b'{"a": {"a": 1}, "b": "a,a"}') == {"a": {"a": 1}, "b": "a,a"}


@pytest.mark.parametrize("value", ["０.００１", "0.00_1", " 0.001", "1E3", "-1", "1.", ".5", ""])
def test_an_amount_string_is_a_plain_decimal(value: str) -> None:
    with pytest.raises(errors.OkxError) as refused:
        parse_amount(value, "sz")
    assert refused.value.code == "51000"


def test_json_numbers_are_read_as_the_number_they_are() -> None:
    assert str(parse_amount(1e-05, "sz")) == "0.00001"
    assert str(parse_amount(0.1, "sz")) == "0.1"
    assert parse_amount(3, "sz") == 3
