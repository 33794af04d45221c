"""Items as the Responses API keeps and lists them (services/response_items.py): `input` as items, ids
and message shapes for storage (the OpenAPI document's `ItemResource`), and `ResponseItemList` pages."""

from __future__ import annotations

from typing import Any

import pytest

from llmgw.errors import InvalidRequest
from llmgw.services.response_items import as_items, is_reference, new_item_id, page, stored_items

ITEMS = [{"id": f"item_{n}", "type": "message"} for n in range(1, 6)]  # oldest first


def ids(listing: dict[str, Any]) -> list[str]:
    return [i["id"] for i in listing["data"]]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ("Hi", [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}]),
        ([{"role": "user", "content": "Hi"}], [{"role": "user", "content": "Hi"}]),
    ],
)
def test_input_as_items(value: Any, expected: list[Any]) -> None:
    assert as_items(value) == expected


def test_input_of_another_type_is_a_400() -> None:
    with pytest.raises(InvalidRequest) as err:
        as_items({"role": "user"})
    assert err.value.param == "input"


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (  # an "easy" user message: written out as an InputMessageResource
            {"role": "user", "content": "Hi"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
        ),
        (
            {"role": "developer", "content": "Be brief."},
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "Be brief."}],
            },
        ),
        (  # the assistant's earlier answer: an OutputMessage's text part
            {"type": "message", "role": "assistant", "content": "Paris."},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Paris.", "annotations": []}],
            },
        ),
        (  # parts already: as they are
            {"role": "user", "content": [{"type": "input_image", "image_url": "data:image/png;base64,AA=="}]},
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_image", "image_url": "data:image/png;base64,AA=="}],
            },
        ),
        (
            {"type": "function_call_output", "call_id": "call_1", "output": "42"},
            {"type": "function_call_output", "call_id": "call_1", "output": "42"},
        ),
    ],
)
def test_stored_items_get_an_id_and_a_written_out_message(
    item: dict[str, Any], expected: dict[str, Any]
) -> None:
    (stored,) = stored_items([item])
    minted = stored.pop("id")
    assert isinstance(minted, str) and len(minted.rsplit("_", 1)[1]) == 48
    assert stored == expected
    assert "id" not in item  # the client's item is not changed


def test_an_item_with_an_id_is_kept_byte_for_byte() -> None:
    reasoning = {
        "id": "rs_1",
        "type": "reasoning",
        "summary": [],
        "encrypted_content": "llmgw1.eyJ0eXBlIjoidGhpbmtpbmcifQ",
    }
    assert stored_items([reasoning, "not an item"]) == [reasoning]
    assert stored_items(
        [{"id": None, "type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}]
    )[0]["id"].startswith("fc_")


@pytest.mark.parametrize(
    ("kind", "prefix"),
    [
        ("message", "msg_"),
        ("function_call", "fc_"),
        ("reasoning", "rs_"),
        ("custom_tool_call", "ctc_"),
        ("x", "item_"),
    ],
)
def test_minted_ids_say_their_kind(kind: str, prefix: str) -> None:
    assert new_item_id(kind).startswith(prefix)
    assert new_item_id(kind) != new_item_id(kind)


def test_is_reference() -> None:
    assert is_reference({"type": "item_reference", "id": "msg_1"})
    assert not is_reference({"type": "message"}) and not is_reference("item_reference")


@pytest.mark.parametrize(
    ("kwargs", "expected", "has_more"),
    [
        ({}, ["item_5", "item_4", "item_3", "item_2", "item_1"], False),  # desc by default
        ({"order": "asc"}, ["item_1", "item_2", "item_3", "item_4", "item_5"], False),
        ({"limit": 2}, ["item_5", "item_4"], True),
        ({"limit": 2, "after": "item_4"}, ["item_3", "item_2"], True),
        ({"limit": 2, "after": "item_2"}, ["item_1"], False),
        ({"order": "asc", "after": "item_3"}, ["item_4", "item_5"], False),
        ({"order": "asc", "limit": 2, "before": "item_5"}, ["item_3", "item_4"], True),
        ({"order": "asc", "before": "item_1"}, [], False),
        ({"order": "asc", "after": "item_1", "before": "item_4"}, ["item_2", "item_3"], False),
        ({"order": "asc", "after": "item_4", "before": "item_2"}, [], False),
        ({"limit": 100}, ["item_5", "item_4", "item_3", "item_2", "item_1"], False),
    ],
)
def test_pages(kwargs: dict[str, Any], expected: list[str], has_more: bool) -> None:
    listing = page(ITEMS, **kwargs)
    assert ids(listing) == expected
    assert listing["object"] == "list" and listing["has_more"] is has_more
    assert listing["first_id"] == (expected[0] if expected else None)
    assert listing["last_id"] == (expected[-1] if expected else None)


def test_walking_every_page() -> None:
    seen: list[str] = []
    after = None
    while True:
        listing = page(ITEMS, limit=2, order="asc", after=after)
        seen += ids(listing)
        if not listing["has_more"]:
            break
        after = listing["last_id"]
    assert seen == [i["id"] for i in ITEMS]


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"order": "newest"}, "order"),
        ({"after": "item_9"}, "after"),
        ({"before": "item_9"}, "before"),
    ],
)
def test_bad_page_parameters_are_400s(kwargs: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        page(ITEMS, **kwargs)
    assert err.value.status == 400 and err.value.param == param
