"""A name -> factory table with errors that list the valid names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Registry:
    """Maps lower-case names to factories (classes or functions).

    ``get(name, **kwargs)`` calls the factory; an unknown name raises ``ValueError``
    listing every valid name.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(factory: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = factory
            return factory

        return decorator

    def names(self) -> list[str]:
        return sorted(self._entries)

    def lookup(self, name: str) -> Callable[..., Any]:
        if not isinstance(name, str) or name not in self._entries:
            raise ValueError(
                f"unknown {self.kind} {name!r}; valid {self.kind} names: {', '.join(self.names())}"
            )
        return self._entries[name]

    def get(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self.lookup(name)(*args, **kwargs)

    def __contains__(self, name: object) -> bool:
        return name in self._entries
