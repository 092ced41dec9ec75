"""Helpers shared by the patches (not a patch itself)."""

import functools
from collections.abc import Callable
from typing import Any


def around(owner: type, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Replace `owner.name` by the decorated function, which gets the original as its
    first argument, so a patch can run code before and after moto's own."""

    def decorator(patch: Callable[..., Any]) -> Callable[..., Any]:
        original = getattr(owner, name)

        @functools.wraps(original)
        def replacement(*args: Any, **kwargs: Any) -> Any:
            return patch(original, *args, **kwargs)

        setattr(owner, name, replacement)
        return patch

    return decorator
