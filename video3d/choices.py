"""`Choices`: one config choice as a name -> builder table.

Each choice of the system (stem, block, head, optimiser, LR policy, decoder, ...) is one
`Choices` table next to the code it builds. The config checks read the allowed values from
the tables (`video3d.config.checks`), the builders look names up in them, and a bad name
gets the same one-line error everywhere. docs/EXTENDING.md shows how to add an entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from video3d.errors import ConfigError

T = TypeVar("T")


class Choices(Generic[T]):
    """The values config key `key` may take, each with its builder."""

    def __init__(self, key: str, entries: dict[str, T]):
        self.key = key
        self._entries = dict(entries)

    @property
    def names(self) -> tuple[str, ...]:
        """The allowed values, in the table's order."""
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __getitem__(self, name: str) -> T:
        """The builder of `name`; a ConfigError naming the key and the allowed values otherwise."""
        return self.lookup(name, self.key)

    def lookup(self, name: str, key: str) -> T:
        """`self[name]` for a value read from config key `key` (a table some keys share)."""
        if name not in self._entries:
            raise ConfigError(self.error(name, key))
        return self._entries[name]

    def error(self, name: object, key: str | None = None) -> str:
        """The one-line message for a value that is not in the table."""
        return f"config key {key or self.key} is {name!r}; expected one of {', '.join(self._entries)}"

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator adding `name` -> the decorated builder (for code outside the table's module)."""
        def add(builder: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.key}: {name!r} is already registered")
            self._entries[name] = builder
            return builder
        return add
