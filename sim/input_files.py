"""Reading the files a command is given: bounded in size and nesting, UTF-8, one-line errors.

Every file a user hands to ``rbtc-sim`` (a scenario, a sweep, a proof document) or that a command
reads back from a run folder (``summary.json``, ``proof_of_reserves.json``) goes through here, so a
binary file, a UTF-16 one, a huge one or one nested thousands of levels deep gets one line naming
the file and what was expected — never a ``UnicodeDecodeError`` or ``RecursionError``.

==========================  ===========  =====================================================
file                        size limit   read by
==========================  ===========  =====================================================
scenario, sweep (TOML)      1 MiB        ``run``, ``validate``, ``replay``, ``sweep``
deployment, deviations      1 MiB        ``run``, ``check`` (a TOML deployment, a deviations file)
broadcast (JSON)            16 MiB       ``run``, ``check`` (a Foundry ``run-latest.json``)
counterexample (JSON)       16 MiB       ``check --replay``
proof document (JSON)       16 MiB       ``verify-proof``
summary.json                64 MiB       ``replay``
proof_of_reserves.json      1 GiB        ``proof``
==========================  ===========  =====================================================

Nesting (tables in tables, arrays in arrays) is limited to :data:`MAX_DEPTH` levels everywhere.
A UTF-8 byte-order mark is accepted and ignored.
"""

from __future__ import annotations

import json
import sys
import tomllib
from contextlib import contextmanager
from pathlib import Path

from sim.exits import BadInput

KIB, MIB, GIB = 1024, 1024**2, 1024**3
MAX_TOML_BYTES = MIB
MAX_PROOF_BYTES = 16 * MIB
MAX_SUMMARY_BYTES = 64 * MIB
MAX_SNAPSHOT_BYTES = GIB
MAX_ARTIFACT_BYTES = 256 * MIB  # a compiled contract with its AST and metadata
#: Deepest nesting of tables and arrays in any file read here (the project's own files use 3).
MAX_DEPTH = 32
#: Foundry artifacts carry the source's AST, nested far deeper than any document a user writes.
MAX_ARTIFACT_DEPTH = 512


def _size(limit: int) -> str:
    return f"{limit // GIB} GiB" if limit >= GIB else f"{limit // MIB} MiB" if limit >= MIB else f"{limit // KIB} KiB"


def read_bytes(path: str | Path, what: str, max_bytes: int, error: type[Exception] = BadInput) -> bytes:
    """The file's bytes (``-`` is standard input), refused past ``max_bytes``."""
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read(max_bytes + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise error(f"{path}: no such {what} file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, expected a {what} file") from None
    except (OSError, ValueError) as exc:  # permissions, a NUL in the name, a name too long, ...
        raise error(f"{path}: cannot read the {what} file ({getattr(exc, 'strerror', None) or exc})") from None
    if len(data) > max_bytes:
        raise error(f"{path}: larger than {_size(max_bytes)}, the limit for a {what} file")
    return data


def decode(data: bytes, path: str | Path, what: str, expected: str, error: type[Exception] = BadInput) -> str:
    """``data`` as UTF-8 text (a UTF-8 byte-order mark is dropped)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise error(f"{path}: UTF-16 text; expected {expected} in UTF-8 (save the file as UTF-8)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                    f"expected {expected}") from None
    return text[1:] if text.startswith("\ufeff") else text


def check_depth(data, path: str | Path, error: type[Exception] = BadInput, limit: int = MAX_DEPTH) -> None:
    """Refuse tables and arrays nested deeper than ``limit`` (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            raise error(f"{path}: nested more than {limit} levels deep; expected at most {limit}")
        stack.extend((child, depth + 1) for child in children)


@contextmanager
def _shallow_recursion(levels: int = 4 * MAX_DEPTH + 100):
    """Parse with the recursion limit only ``levels`` frames above the current depth.

    The parsers recurse once per nesting level; py-evm raises the interpreter's limit to 100,000, at
    which a file nested 100,000 levels deep overflows the C stack (a segfault) before any
    RecursionError. Under this limit such a file is a RecursionError, reported as too deeply nested."""
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + levels)
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


def parse_toml(text: str, path: str | Path, error: type[Exception] = BadInput) -> dict:
    try:
        with _shallow_recursion():
            data = tomllib.loads(text)
    except RecursionError:
        raise error(f"{path}: nested more than {MAX_DEPTH} levels deep; expected at most {MAX_DEPTH}") from None
    except ValueError as exc:  # TOMLDecodeError, or an integer with thousands of digits
        raise error(f"{path}: not valid TOML ({exc})") from None
    check_depth(data, path, error)
    return data


def read_toml(path: str | Path, what: str, error: type[Exception] = BadInput,
              max_bytes: int = MAX_TOML_BYTES) -> tuple[dict, str]:
    """The TOML document in ``path`` and its text."""
    text = decode(read_bytes(path, what, max_bytes, error), path, what, "TOML", error)
    return parse_toml(text, path, error), text


def parse_json(text: str, path: str | Path, error: type[Exception] = BadInput, max_depth: int = MAX_DEPTH):
    try:
        with _shallow_recursion(4 * max_depth + 100):
            data = json.loads(text)
    except RecursionError:
        raise error(f"{path}: nested more than {max_depth} levels deep; expected at most {max_depth}") from None
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not JSON ({exc.msg}: line {exc.lineno} column {exc.colno})") from None
    except ValueError as exc:  # an integer with thousands of digits
        raise error(f"{path}: not usable JSON ({exc})") from None
    check_depth(data, path, error, max_depth)
    return data


def read_json(path: str | Path, what: str, max_bytes: int, error: type[Exception] = BadInput,
              max_depth: int = MAX_DEPTH):
    """The JSON document in ``path`` (``-``: standard input), nested at most ``max_depth`` levels."""
    text = decode(read_bytes(path, what, max_bytes, error), path, what, "JSON", error)
    return parse_json(text, path, error, max_depth)


def read_json_object(path: str | Path, what: str, max_bytes: int, error: type[Exception] = BadInput) -> dict:
    """Like :func:`read_json`, for documents that must be a JSON object."""
    data = read_json(path, what, max_bytes, error)
    if not isinstance(data, dict):
        raise error(f"{path}: expected a JSON object (a {what}), got a JSON {_json_type(data)}")
    return data


def _json_type(value) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null", int: "number",
            float: "number"}.get(type(value), type(value).__name__)
