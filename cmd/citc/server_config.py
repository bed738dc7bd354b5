"""`citc server --config FILE`: the serving options in a TOML file.

The file holds a ``[server]`` table whose keys are the long options without their
dashes (``data``, ``listen``, ``kv``, ``objects``, ``tls-cert``, ``tls-key``,
``tokens``, ``grace``, ``log-level``; ``_`` may stand for ``-``). An option given on
the command line wins over the file. Unknown keys and wrong types are refused with
one line naming them, before anything starts.
"""

from __future__ import annotations

import tomllib

from citcfs.errors import InvalidArgument

OPTIONS: dict[str, tuple[str, type]] = {
    "data": ("data_dir", str), "listen": ("listen", str), "kv": ("kv", str),
    "objects": ("objects", str), "tls-cert": ("tls_cert", str), "tls-key": ("tls_key", str),
    "tokens": ("tokens_file", str), "grace": ("grace", float), "log-level": ("log_level", str),
    "http": ("http", str), "no-metrics": ("no_metrics", bool),
}
"""File key -> (parameter of `server_cmd.server`, type)."""


def load(path: str) -> dict[str, object]:
    """The parameters a config file sets, by `server_cmd.server` parameter name."""
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except OSError as exc:
        raise InvalidArgument(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArgument(f"config file {path} is not valid TOML: {exc}") from None
    extra = set(raw) - {"server"}
    if extra:
        raise InvalidArgument(f"config file {path}: unknown table(s) {sorted(extra)}; "
                              "the options go in [server]")
    table = raw.get("server", {})
    if not isinstance(table, dict):
        raise InvalidArgument(f"config file {path}: [server] must be a table")
    found: dict[str, object] = {}
    for key, value in table.items():
        option = OPTIONS.get(key.replace("_", "-"))
        if option is None:
            raise InvalidArgument(f"config file {path}: unknown option {key!r} "
                                  f"(known: {', '.join(sorted(OPTIONS))})")
        name, kind = option
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            wanted = ("a number" if kind is float else "true or false" if kind is bool
                      else "a string")
            raise InvalidArgument(f"config file {path}: {key} must be {wanted}")
        found[name] = value
    return found
