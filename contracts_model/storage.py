"""Contract storage with an undo journal, so a reverted transaction leaves no trace.

Every write to model storage appends one undo entry `(undo, target, key, old)` to the system's journal
(a plain list) before it happens. A transaction that succeeds clears the journal; one that reverts
replays the entries backwards (`rollback`). Reads cost nothing extra.

- `State`: a contract's state variables as attributes (`s.totalSupply += d`);
- `Mapping`: `mapping(K => V)`, a dict whose missing keys read as the type's zero value;
- `Struct`: a struct held in storage (`p.yieldEarned += x`), fields named as in Solidity;
- `Array`: a storage array that only grows (`push`).

`snapshot_of` / `restore` copy and restore a `State` (with its mappings and structs) in place, for the
system's snapshot/revert; they are not used on the hot path.
"""

from __future__ import annotations

_ABSENT = object()


def _undo_attr(target, name, old):
    if old is _ABSENT:
        object.__delattr__(target, name)
    else:
        object.__setattr__(target, name, old)


def _undo_item(mapping, key, old):
    if old is _ABSENT:
        dict.__delitem__(mapping, key)
    else:
        dict.__setitem__(mapping, key, old)


def _undo_push(array, _key, _old):
    list.pop(array)


def rollback(journal: list) -> None:
    """Undo every journaled write, newest first, and empty the journal."""
    for undo, target, key, old in reversed(journal):
        undo(target, key, old)
    journal.clear()


class Journaled:
    """An object whose attribute writes are journaled (after `_journal` is set)."""

    __slots__ = ("_journal",)

    def __setattr__(self, name, value):
        self._journal.append((_undo_attr, self, name, getattr(self, name, _ABSENT)))
        object.__setattr__(self, name, value)


class State(Journaled):
    """A contract's state variables (storage and immutables), as attributes named like the Solidity."""

    def __init__(self, journal: list):
        object.__setattr__(self, "_journal", journal)


class Struct(Journaled):
    """A Solidity struct in storage. Subclasses set `__slots__ = FIELDS = (field names in order)`."""

    __slots__ = ()
    FIELDS: tuple[str, ...] = ()

    def __init__(self, journal: list | None, *values):
        if len(values) != len(self.FIELDS):
            raise TypeError(f"{type(self).__name__} has {len(self.FIELDS)} fields, got {len(values)}")
        object.__setattr__(self, "_journal", journal)
        for name, value in zip(self.FIELDS, values):
            object.__setattr__(self, name, value)

    def as_tuple(self) -> tuple:
        """The struct as web3 decodes it: a tuple of its fields in declaration order."""
        return tuple(getattr(self, name) for name in self.FIELDS)

    def copy(self):
        return type(self)(self._journal, *self.as_tuple())

    def __eq__(self, other):
        return type(other) is type(self) and other.as_tuple() == self.as_tuple()

    __hash__ = None

    def __repr__(self):
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.FIELDS)
        return f"{type(self).__name__}({fields})"


class Mapping(dict):
    """`mapping(K => V)`: a missing key reads as `default` (the zero value) without being stored.

    A struct-valued mapping's default is a zero struct built with journal None: writing to it is a bug
    and fails loudly, as it would never be persisted.
    """

    __slots__ = ("_journal", "_default")

    def __init__(self, journal: list, default):
        super().__init__()
        self._journal = journal
        self._default = default

    def __missing__(self, key):
        return self._default

    def __setitem__(self, key, value):
        self._journal.append((_undo_item, self, key, dict.get(self, key, _ABSENT)))
        dict.__setitem__(self, key, value)

    def __delitem__(self, key):
        raise TypeError("Solidity mappings have no delete in these contracts; assign the zero value")


class Array(list):
    """A storage array (`T[]`) that only grows by `push`."""

    __slots__ = ("_journal",)

    def __init__(self, journal: list):
        super().__init__()
        self._journal = journal

    def push(self, value) -> None:
        self._journal.append((_undo_push, self, None, None))
        list.append(self, value)


# ----------------------------------------------------------------------------- snapshot / restore


def _copy_value(value):
    if isinstance(value, Struct):
        return value.copy()
    if isinstance(value, Mapping):
        return {key: _copy_value(item) for key, item in dict.items(value)}
    if isinstance(value, Array):
        return [_copy_value(item) for item in value]
    return value  # ints, bools, str, bytes, immutable tuples


def snapshot_of(state: State) -> dict:
    """A deep copy of a contract's state variables."""
    return {name: _copy_value(value) for name, value in vars(state).items()}


def restore(state: State, saved: dict) -> None:
    """Puts `state` back to `saved` in place (objects keep their identity; the saved copy stays valid)."""
    current = vars(state)
    for name, value in saved.items():
        target = current.get(name)
        if isinstance(target, Mapping):
            dict.clear(target)
            dict.update(target, {key: _copy_value(item) for key, item in value.items()})
        elif isinstance(target, Array):
            list.clear(target)
            list.extend(target, [_copy_value(item) for item in value])
        elif isinstance(target, Struct):
            for field in target.FIELDS:
                object.__setattr__(target, field, getattr(value, field))
        else:
            object.__setattr__(state, name, _copy_value(value))
    for name in [name for name in current if name not in saved]:
        object.__delattr__(state, name)
