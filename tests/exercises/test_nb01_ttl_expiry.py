"""The checkers of notebooks 01 and 02: right answers pass, each typical mistake fails with the matching hint."""

from __future__ import annotations

import json

from helpers.core.keys import KeySpace
from helpers.exercises.nb01_ttl_expiry import check_update_cached_city

KEYS = KeySpace("01")


def city_updater(client, **set_options):
    def update_cached_city(user_id, city):
        key = KEYS.key("user", user_id)
        cached = client.get(key)
        if cached is None:
            return
        profile = json.loads(cached)
        profile["city"] = city
        client.set(key, json.dumps(profile), **set_options)

    return update_cached_city


class TestUpdateCachedCity:
    def test_keepttl_passes(self, client):
        result = check_update_cached_city(city_updater(client, keepttl=True), cache=client, keys=KEYS)
        assert result.passed, repr(result)
        assert KEYS.count(client) == 0  # the checker cleans up after itself

    def test_plain_set_loses_the_ttl(self, client):
        result = check_update_cached_city(city_updater(client), cache=client, keys=KEYS)
        assert not result.passed and "PTTL replied -1" in result.message and "keepttl=True" in result.hint

    def test_a_new_ttl_is_not_the_kept_one(self, client):
        result = check_update_cached_city(city_updater(client, ex=60), cache=client, keys=KEYS)
        assert not result.passed and "TTL" in result.message and "keepttl=True" in result.hint

    def test_creating_an_uncached_profile_fails(self, client):
        def update_cached_city(user_id, city):
            key = KEYS.key("user", user_id)
            profile = json.loads(client.get(key) or "{}")
            profile["city"] = city
            client.set(key, json.dumps(profile), keepttl=True)

        result = check_update_cached_city(update_cached_city, cache=client, keys=KEYS)
        assert not result.passed and "was not cached" in result.message

    def test_wrong_city_or_deleted_key(self, fake_client):
        deleted = check_update_cached_city(lambda u, c: fake_client.delete(KEYS.key("user", u)), fake_client, KEYS)
        assert not deleted.passed and "is gone" in deleted.message
        unchanged = check_update_cached_city(lambda u, c: None, fake_client, KEYS)
        assert not unchanged.passed and "expected 'Osaka'" in unchanged.message

    def test_stub_fails_with_the_stub_hint(self, fake_client):
        def stub(user_id, city):
            raise NotImplementedError

        result = check_update_cached_city(stub, fake_client, KEYS)
        assert not result.passed and "NotImplementedError" in result.message and result.hint
