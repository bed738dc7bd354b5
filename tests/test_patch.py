"""`citcfs.cmd.patch` and `citcfs.cmd.quoting` without a server: the patches it writes
are applied with GNU patch (and git apply) to real files and must reproduce the new side.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from citcfs.cmd.patch import Change, file_diffs, split_lines, stat_lines, stat_summary
from citcfs.entries import Entry

READ = lambda entry: entry.inline or b""  # noqa: E731  (inline entries only)


def _no_files_below(entry: Entry) -> list[tuple[str, Entry]]:
    return []


def patch_text(changes: list[Change], **kwargs: object) -> str:
    return "".join(d.text for d in file_diffs(changes, READ, _no_files_below, **kwargs))


def apply(tmp_path: Path, before: dict[str, bytes], text: str,
          tool: tuple[str, ...] = ("patch", "-p1", "--quiet")) -> dict[str, bytes]:
    """Write `before` under tmp_path/t, apply `text` with `tool`, return the files."""
    root = tmp_path / "t"
    root.mkdir()
    for name, data in before.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    done = subprocess.run(tool, cwd=root, input=text.encode("utf-8", "surrogateescape"),
                          capture_output=True)
    assert done.returncode == 0, (done.stdout, done.stderr, text)
    return {os.fsdecode(os.path.relpath(os.path.join(top, f), root)):
            open(os.path.join(top, f), "rb").read()
            for top, _, files in os.walk(root) for f in files}


ODD_LINE_BREAKS = [b"\r", b"\x0c", b"\x1c", b"\x1d", b"\x1e", "\x85".encode(),
                   "\u2028".encode(), b"\x0b"]


def test_lines_split_on_newline_only() -> None:
    assert split_lines(b"a\rb\x0cc\nd") == ["a\rb\x0cc\n", "d"]
    assert split_lines(b"") == []
    assert split_lines(b"x\n\n") == ["x\n", "\n"]


@pytest.mark.parametrize("brk", ODD_LINE_BREAKS)
def test_patch_with_odd_line_breaks_applies(tmp_path: Path, brk: bytes) -> None:
    old = b"one\n" + brk + b"\ntwo" + brk + b"three\nfour\n"
    new = b"one\n" + brk + b"\ntwo" + brk + b"THREE\nfour\n"
    text = patch_text([Change("f.txt", "modified", Entry.file(old), Entry.file(new))])
    assert "No newline" not in text
    assert apply(tmp_path, {"f.txt": old}, text) == {"f.txt": new}


def test_stat_leaves_out_zero_parts() -> None:
    assert stat_summary(1, 2, 0) == " 1 file changed, 2 insertions(+)"
    assert stat_summary(2, 0, 1) == " 2 files changed, 1 deletion(-)"
    assert stat_summary(1, 1, 1) == " 1 file changed, 1 insertion(+), 1 deletion(-)"
    assert stat_summary(1, 0, 0) == " 1 file changed, 0 insertions(+), 0 deletions(-)"
    added = list(file_diffs([Change("n", "added", None, Entry.file(b"x\n"))], READ,
                            _no_files_below))
    assert stat_lines(added)[-1] == " 1 file changed, 1 insertion(+)"


# --- names --------------------------------------------------------------------------

ODD_NAMES = ["   spaces  ", "new\nline", "tab\tname", 'quote"d', "back\\slash",
             "caf\udce9", "\u00fc-utf8", "form\x0cfeed", "cr\rname", "plain"]


def test_quote_as_git_does() -> None:
    from citcfs.cmd.quoting import json_path, quote
    assert quote("plain/name.c") == "plain/name.c"
    assert quote("   lead") == "   lead"  # git quotes no spaces...
    assert quote("trail  ") == '"trail  "'  # ...but patch would drop trailing ones
    assert quote("a\nb") == '"a\\nb"'
    assert quote('q"\\') == '"q\\"\\\\"'
    assert quote("\u00e9") == '"\\303\\251"'          # core.quotePath: octal UTF-8 bytes
    assert quote("caf\udce9") == '"caf\\351"'          # a non-UTF-8 byte
    assert quote("x\x01\x7f") == '"x\\001\\177"'
    assert json_path({}, "path", "caf\udce9") == {"path": "caf\ufffd", "path_b64": "Y2Fm6Q=="}
    assert json_path({}, "path", "\u00e9") == {"path": "\u00e9"}


@pytest.mark.parametrize("tool", [("patch", "-p1", "--quiet"), ("git", "apply")])
def test_odd_names_apply_with_patch_and_git_apply(tmp_path: Path, tool: tuple[str, ...]) -> None:
    before = {f"d/{n}": f"old {i}\n".encode() for i, n in enumerate(ODD_NAMES)}
    changes = [Change(p, "modified", Entry.file(data), Entry.file(data.replace(b"old", b"new")))
               for p, data in before.items()]
    changes += [Change(f"added {n}", "added", None, Entry.file(b"a\n")) for n in ODD_NAMES]
    text = patch_text(changes)
    assert "\ndiff --git \"a/d/new\\nline\" \"b/d/new\\nline\"\n" in text
    found = apply(tmp_path, before, text, tool)
    wanted = {p: d.replace(b"old", b"new") for p, d in before.items()}
    wanted.update({f"added {n}": b"a\n" for n in ODD_NAMES})
    assert found == wanted


def test_name_status_lines_stay_one_line() -> None:
    from citcfs.cmd.patch import name_status
    assert name_status(Change("a\nb", "added", None, Entry.file(b""))) == 'A\t"a\\nb"'
    assert name_status(Change("new x", "renamed", Entry.file(b""), Entry.file(b""),
                              "old\tx")) == 'R\t"old\\tx"\tnew x'


def test_binary_patches_apply_with_git_apply(tmp_path: Path) -> None:
    from citcfs.cmd.patch import git_blob_id
    assert git_blob_id(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"  # git hash-object
    old_bin = bytes(range(256)) * 3
    new_bin = old_bin[:100] + b"\0changed\0" + old_bin[300:]
    big = os.urandom(4000) + b"\0"
    changes = [Change("img.bin", "modified", Entry.file(old_bin), Entry.file(new_bin)),
               Change("new.bin", "added", None, Entry.file(big)),
               Change("gone.bin", "deleted", Entry.file(b"\0gone"), None),
               Change("text", "modified", Entry.file(b"a\n"), Entry.file(b"b\n"))]
    plain = patch_text(changes)
    assert "Binary files a/img.bin and b/img.bin differ" in plain
    text = patch_text(changes, binary=True)
    assert "GIT binary patch\nliteral" in text and "Binary files" not in text
    found = apply(tmp_path, {"img.bin": old_bin, "gone.bin": b"\0gone", "text": b"a\n"}, text,
                  ("git", "apply"))
    assert found == {"img.bin": new_bin, "new.bin": big, "text": b"b\n"}



@pytest.mark.parametrize("tool", [("patch", "-p1", "--quiet"), ("git", "apply")])
def test_a_changed_symlink_applies(tmp_path: Path, tool: tuple[str, ...]) -> None:
    text = patch_text([Change("link", "modified", Entry.symlink("a"), Entry.symlink("b"))])
    root = tmp_path / "t"
    root.mkdir()
    os.symlink("a", root / "link")
    done = subprocess.run(tool, cwd=root, input=text.encode(), capture_output=True)
    assert done.returncode == 0, (done.stdout, done.stderr, text)
    assert os.readlink(root / "link") == "b"
