"""The head metadata of a mount without a mount: pending paths against fetches."""

from __future__ import annotations

from citcfs.client.metadata import HeadMetadata
from citcfs.entries import Entry

README = Entry.file(b"readme\n")
NEW = Entry.file(b"new\n")


def test_a_listing_fetched_while_the_server_applies_a_change_keeps_it() -> None:
    """The answer may predate the apply that ends the change's pending state: the
    mount's own change still shows, then and in the listing it keeps."""
    meta = HeadMetadata()
    meta.pend(1, [("new.txt", NEW)])

    def fetch(path: str) -> list[tuple[str, Entry]]:
        meta.applied(1)  # the flusher's answer arrives while the listing is on its way
        return [("README", README)]  # read by the server before it applied new.txt

    assert sorted(meta.listing("", fetch)) == ["README", "new.txt"]
    assert sorted(meta.listing("", lambda path: [])) == ["README", "new.txt"]  # kept


def test_a_removal_applied_during_the_fetch_stays_removed() -> None:
    meta = HeadMetadata()
    meta.pend(1, [("README", None)])

    def fetch(path: str) -> list[tuple[str, Entry]]:
        meta.applied(1)
        return [("README", README)]

    assert meta.listing("", fetch) == {}
