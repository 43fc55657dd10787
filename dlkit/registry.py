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
    """Maps lower-case names to factories (classes or functions), each with its facts.

    ``register(name, **facts)`` is the one place an entry is declared: the facts a kind
    requires (a dataset's ``task``, an optimizer's ``adaptive``) must be given, optional ones
    get their declared default, and an unknown fact is refused, all at import time. With
    ``serializable=True`` a class is also registered with Keras's serialization under the
    ``dlkit`` package, so a saved model or optimizer loads back without ``custom_objects``.

    ``get(name, *args, **kwargs)`` calls the factory; an unknown name, or a keyword the
    factory does not take, raises ``ConfigError`` listing what is accepted.
    """

    def __init__(self, kind: str, required: tuple[str, ...] = (),
                 optional: dict[str, Any] | None = None, serializable: bool = False):
        self.kind = kind
        self.required = tuple(required)
        self.optional = dict(optional or {})
        self.serializable = serializable
        self._entries: dict[str, Callable[..., Any]] = {}
        self._facts: dict[str, dict[str, Any]] = {}

    def register(self, name: str, **facts: Any) -> Callable[[Callable], Callable]:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        missing = [key for key in self.required if key not in facts]
        if missing:
            raise ValueError(f"{self.kind} {name!r} must declare {', '.join(missing)} "
                             f"(every {self.kind} declares: {', '.join(self.required)})")
        unknown = sorted(set(facts) - set(self.required) - set(self.optional))
        if unknown:
            known = ", ".join((*self.required, *self.optional)) or "none"
            raise ValueError(f"{self.kind} {name!r}: unknown fact(s) {', '.join(unknown)}; "
                             f"a {self.kind} declares {known}")

        def decorator(factory: Callable[..., Any]) -> Callable[..., Any]:
            if self.serializable and inspect.isclass(factory):
                import keras

                factory = keras.saving.register_keras_serializable(package="dlkit")(factory)
            self._entries[name] = factory
            self._facts[name] = {**self.optional, **facts}
            return factory

        return decorator

    def facts(self, name: str) -> dict[str, Any]:
        """The facts entry ``name`` declared, optional ones at their default."""
        self.lookup(name)
        return dict(self._facts[name])

    def where(self, **facts: Any) -> list[str]:
        """The sorted names whose facts equal every given one (``where(task="regression")``)."""
        return [name for name in self.names()
                if all(self._facts[name].get(k) == v for k, v in facts.items())]

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
