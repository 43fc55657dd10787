"""A name -> factory table with errors that list the valid names and arguments."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from dlkit.errors import ConfigError


def accepted_arguments(factory: Callable[..., Any]) -> set[str] | None:
    """The keyword arguments ``factory`` takes: for a class, those named by the ``__init__``
    of each class in its method resolution order, up to the first without ``**kwargs``
    (``dlkit.optimizers.Adam`` takes Keras's ``clipnorm`` through its bases); ``None`` for a
    function that takes ``**kwargs`` it does not name."""
    if inspect.isclass(factory):
        owners = [c.__dict__["__init__"] for c in inspect.getmro(factory)
                  if "__init__" in c.__dict__ and c is not object]
    else:
        owners = [factory]
    names: set[str] = set()
    for function in owners:
        try:
            parameters = inspect.signature(function).parameters.values()
        except (TypeError, ValueError):
            return None
        names |= {p.name for p in parameters
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"}
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            return names
    return names if inspect.isclass(factory) else None


class Registry:
    """Maps lower-case names to factories (classes or functions).

    ``get(name, *args, **kwargs)`` calls the factory; an unknown name, or a keyword the
    factory does not take, raises ``ConfigError`` listing what is accepted.
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
            raise ConfigError(
                f"unknown {self.kind} {name!r}; valid {self.kind} names: {', '.join(self.names())}"
            )
        return self._entries[name]

    def check_arguments(self, name: str, keys, skip=()) -> None:
        """Refuse keyword names that factory ``name`` does not take (``skip``: arguments
        the caller supplies itself, not the user)."""
        accepted = accepted_arguments(self.lookup(name))
        if accepted is None:
            return
        for key in keys:
            if key not in accepted:
                takes = sorted(accepted - set(skip))
                raise ConfigError(f"{self.kind}.{key} is not an argument of {self.kind} "
                                  f"{name!r}; it takes {', '.join(takes) or 'no arguments'}")

    def get(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self.check_arguments(name, kwargs)
        return self.lookup(name)(*args, **kwargs)

    def __contains__(self, name: object) -> bool:
        return name in self._entries
