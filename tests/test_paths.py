"""citcfs.paths: normalization, the name and path limits, and labels."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from citcfs import paths
from citcfs.errors import InvalidArgument, InvalidPath, NameTooLong


@pytest.mark.parametrize("raw, expected", [
    ("", ""), ("/", ""), ("a", "a"), ("/a", "a"), ("a/", "a"), ("/a/b/", "a/b"),
    ("a/b/c", "a/b/c"), ("é/ü", "é/ü"), ("..a/b..", "..a/b.."), (".hidden", ".hidden"),
])
def test_normalize_accepts(raw: str, expected: str) -> None:
    assert paths.normalize(raw) == expected


@pytest.mark.parametrize("raw", [
    "a//b", "//a", "a//", "./a", "a/.", "a/./b", "../a", "a/..", "a/../b", "..", ".",
    "a\0b", "\0", "a/b\0",
])
def test_normalize_rejects(raw: str) -> None:
    with pytest.raises(InvalidPath):
        paths.normalize(raw)


def test_normalize_rejects_non_strings() -> None:
    with pytest.raises(InvalidPath):
        paths.normalize(b"a")  # type: ignore[arg-type]


def test_name_limit_is_255_bytes() -> None:
    assert paths.normalize("n" * 255) == "n" * 255
    with pytest.raises(NameTooLong):
        paths.normalize("n" * 256)
    # Bytes, not characters: 128 two-byte characters are 256 bytes.
    assert paths.check_name("é" * 127) == "é" * 127
    with pytest.raises(NameTooLong):
        paths.check_name("é" * 128)


def test_path_limit_is_4096_bytes() -> None:
    ok = "/".join(["d" * 255] * 16)  # 16 * 256 - 1 = 4095 bytes
    assert paths.normalize(ok) == ok
    with pytest.raises(NameTooLong):
        paths.normalize(ok + "/xx")
    assert issubclass(NameTooLong, InvalidPath)


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\0"])
def test_check_name_rejects(name: str) -> None:
    with pytest.raises(InvalidPath):
        paths.check_name(name)


def test_split_join_components() -> None:
    assert paths.split("a/b/c") == ("a/b", "c")
    assert paths.split("a") == ("", "a")
    with pytest.raises(InvalidPath):
        paths.split("")
    assert paths.join("", "a") == "a"
    assert paths.join("a/b", "c") == "a/b/c"
    assert paths.components("") == []
    assert paths.components("a/b") == ["a", "b"]


def test_is_within() -> None:
    assert paths.is_within("a/b", "a")
    assert paths.is_within("a", "a")
    assert paths.is_within("anything", "")
    assert not paths.is_within("ab", "a")
    assert not paths.is_within("a", "a/b")


def test_bytes_round_trip_non_utf8() -> None:
    raw = b"caf\xe9"
    text = paths.from_bytes(raw)
    assert paths.to_bytes(text) == raw
    assert paths.normalize(text) == text


@pytest.mark.parametrize("label", ["main", "a", "ws-1", "A_b.c+d", "x" * 128, "_x"])
def test_check_label_accepts(label: str) -> None:
    assert paths.check_label(label) == label


@pytest.mark.parametrize("label", ["", ".hidden", "-x", "a/b", "a b", "x" * 129, "a\0", "é"])
def test_check_label_rejects(label: str) -> None:
    with pytest.raises(InvalidArgument):
        paths.check_label(label)


_name = st.text(st.characters(blacklist_characters="/\0", blacklist_categories=("Cs",)),
                min_size=1, max_size=20).filter(lambda n: n not in (".", ".."))


@given(st.lists(_name, min_size=1, max_size=6))
def test_normalize_is_idempotent_and_keeps_components(names: list[str]) -> None:
    path = "/".join(names)
    normal = paths.normalize("/" + path + "/")
    assert normal == path
    assert paths.normalize(normal) == normal
    assert paths.components(normal) == names


def test_names_from_bytes_decodes_each_name_as_from_bytes_would():
    raw = [b"a", "\u00e9t\u00e9".encode(), b"bad\xe2\x82", b"\xff", b"\x82tail", b"x" * 255]
    assert paths.names_from_bytes(raw) == [paths.from_bytes(name) for name in raw]
    assert paths.names_from_bytes([]) == []
