"""Rows and commands as the race replay names them."""

from __future__ import annotations

import json

from helpers.harness.interleaving import Step
from helpers.harness.rows import cached_row, command_text, row_label

pytest_plugins = ["notebook_code"]  # the fixtures `keys` and `nb`


def test_cached_row_reads_strings_and_hashes(client, keys):
    row = {"id": 1, "city": "Quito", "version": 3}
    client.set(keys.key("user", 1), json.dumps(row))
    client.hset(keys.key("user", 2), mapping={"version": 3, "row": json.dumps(row)})
    client.set(keys.key("user", 3), "not json")
    assert cached_row(client, keys.key("user", 1)) == row == cached_row(client, keys.key("user", 2))
    assert cached_row(client, keys.key("user", 3)) is None
    assert cached_row(client, keys.key("user", 4)) is None


def testcommand_text_names_rows_and_hides_tokens():
    row = json.dumps({"city": "Osaka", "version": 2})
    assert command_text(["SET", "rcp:03:user:7", row, "PX", 60000], row_label) == "SET user:7 Osaka v2 PX 60000"
    assert command_text(["EVALSHA", "ab" * 20, 2, "rcp:03:k", "rcp:03:l", "f" * 32], row_label) == (
        "EVALSHA <script> k l <token>"
    )
    assert str(Step(3, "reader", "cache", "GET user:7", "miss", "(empty)")).split() == [
        "3", "reader", "→", "cache", "GET", "user:7", "→", "miss",
    ]  # fmt: skip
