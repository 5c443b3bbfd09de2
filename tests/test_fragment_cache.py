"""The per-process cache of rendered fragments: served again only for equal
inputs and before the moment the clock alone makes it stale; bounded."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta

from citoyen.fragment_cache import TOKEN
from citoyen.fragment_cache import FragmentCache

NOW = datetime(2027, 3, 15, 8, 0)
LATER = NOW + timedelta(hours=4)
KEY = (1, "tous", 2027, 3)
INPUTS = (NOW.date(), (("Léo",), ("booked",)))
HTML = f'<table class="agenda"><input name="csrf_token" value="{TOKEN}"></table>'


def kept_page(cache: FragmentCache, key: tuple, inputs: tuple, now: datetime) -> str | None:
    """The kept page as it was put (the token's placeholder in place), if it may be served."""
    parts = cache.parts(key, inputs, now)
    return None if parts is None else TOKEN.encode().join(parts).decode()


def test_a_miss_then_a_hit_that_gives_back_what_was_put():
    cache = FragmentCache(4)
    assert kept_page(cache, KEY, INPUTS, NOW) is None
    assert (cache.hits, cache.misses) == (0, 1)
    cache.put(KEY, INPUTS, LATER, HTML)
    assert kept_page(cache, KEY, INPUTS, NOW) == HTML
    assert kept_page(cache, KEY, INPUTS, NOW + timedelta(minutes=1)) == HTML
    assert (cache.hits, cache.misses) == (2, 1)
    # The placeholder is kept as is: the token is put in when serving.
    assert TOKEN in kept_page(cache, KEY, INPUTS, NOW)


def test_other_inputs_are_a_miss_and_do_not_remove_the_entry():
    cache = FragmentCache(4)
    cache.put(KEY, INPUTS, LATER, HTML)
    changed = (NOW.date(), (("Léo",), ("cancelled",)))
    assert kept_page(cache, KEY, changed, NOW) is None
    next_day = (NOW.date() + timedelta(days=1), INPUTS[1])
    assert kept_page(cache, KEY, next_day, NOW) is None
    assert (cache.hits, cache.misses) == (0, 2)
    assert kept_page(cache, KEY, INPUTS, NOW) == HTML
    assert cache.hits == 1


def test_another_key_is_a_miss():
    cache = FragmentCache(4)
    cache.put(KEY, INPUTS, LATER, HTML)
    assert kept_page(cache, (2, "tous", 2027, 3), INPUTS, NOW) is None
    assert kept_page(cache, (1, "7", 2027, 3), INPUTS, NOW) is None
    assert kept_page(cache, (1, "tous", 2027, 4), INPUTS, NOW) is None
    assert (cache.hits, cache.misses) == (0, 3)


def test_from_valid_until_on_it_is_a_miss():
    cache = FragmentCache(4)
    cache.put(KEY, INPUTS, LATER, HTML)
    assert kept_page(cache, KEY, INPUTS, LATER - timedelta(microseconds=1)) == HTML
    assert kept_page(cache, KEY, INPUTS, LATER) is None
    assert kept_page(cache, KEY, INPUTS, LATER + timedelta(seconds=1)) is None
    assert (cache.hits, cache.misses) == (1, 2)


def test_a_new_put_replaces_the_entry():
    cache = FragmentCache(4)
    cache.put(KEY, INPUTS, LATER, HTML)
    newer = (NOW.date(), (("Léo",), ("cancelled",)))
    cache.put(KEY, newer, LATER, "<table>autre</table>")
    assert kept_page(cache, KEY, INPUTS, NOW) is None
    assert kept_page(cache, KEY, newer, NOW) == "<table>autre</table>"


def test_size_zero_never_stores_nor_serves():
    cache = FragmentCache(0)
    for _ in range(3):
        cache.put(KEY, INPUTS, LATER, HTML)
        assert kept_page(cache, KEY, INPUTS, NOW) is None
    assert cache.hits == 0
    assert len(cache._entries) == 0


def test_the_least_recently_used_goes_first():
    cache = FragmentCache(2)
    a, b, c = ((i, "tous", 2027, 3) for i in (1, 2, 3))
    cache.put(a, INPUTS, LATER, "a")
    cache.put(b, INPUTS, LATER, "b")
    # Reading « a » makes « b » the least recently used: « c » evicts it.
    assert kept_page(cache, a, INPUTS, NOW) == "a"
    cache.put(c, INPUTS, LATER, "c")
    assert len(cache._entries) == 2
    assert kept_page(cache, b, INPUTS, NOW) is None
    assert kept_page(cache, a, INPUTS, NOW) == "a"
    assert kept_page(cache, c, INPUTS, NOW) == "c"


def test_without_reads_the_oldest_put_goes_first():
    cache = FragmentCache(2)
    for i in range(1, 4):
        cache.put((i, "tous", 2027, 3), INPUTS, LATER, str(i))
    assert kept_page(cache, (1, "tous", 2027, 3), INPUTS, NOW) is None
    assert kept_page(cache, (2, "tous", 2027, 3), INPUTS, NOW) == "2"
    assert kept_page(cache, (3, "tous", 2027, 3), INPUTS, NOW) == "3"


def test_a_clock_set_back_makes_the_page_again():
    cache = FragmentCache(4)
    cache.put(("k",), (1,), NOW + timedelta(hours=2), "<p>made at eight</p>", made_at=NOW)
    assert kept_page(cache, ("k",), (1,), NOW + timedelta(minutes=5)) == "<p>made at eight</p>"
    assert kept_page(cache, ("k",), (1,), NOW - timedelta(minutes=5)) is None
