"""storage.etcd_cache: a cached range answer, updated by a change, equals the answer
read afresh (the pure rule behind the server's read cache)."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from citcfs.storage.etcd_cache import Answer, Query, updated

_key = st.binary(min_size=1, max_size=3)


def answer(store: dict[bytes, bytes], query: Query) -> Answer:
    """What etcd answers `query` over `store`."""
    low, high, limit, descend = query
    if high is None:
        return ([(low, store[low])] if low in store else [], False)
    items = sorted((k, v) for k, v in store.items() if low <= k < high)
    if descend:
        items.reverse()
    if limit and len(items) > limit:
        return items[:limit], True
    return items, False


@settings(max_examples=400, deadline=None)
@given(store=st.dictionaries(_key, st.binary(max_size=2), max_size=12),
       low=_key, high=st.one_of(st.none(), _key), limit=st.integers(0, 4),
       descend=st.booleans(), key=_key, value=st.one_of(st.none(), st.binary(max_size=2)))
def test_an_updated_answer_is_the_fresh_answer_or_dropped(
        store: dict[bytes, bytes], low: bytes, high: bytes | None, limit: int, descend: bool,
        key: bytes, value: bytes | None) -> None:
    query: Query = (low, high, limit if high is not None else 0,
                    descend if high is not None else False)
    before = answer(store, query)
    after_store = dict(store)
    if value is None:
        after_store.pop(key, None)
    else:
        after_store[key] = value
    new = updated(query, before, key, value)
    if high is None and key != low:
        assert new is before
    elif new is not None:
        assert new == answer(after_store, query)
