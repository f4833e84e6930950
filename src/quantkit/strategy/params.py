"""Strategy parameters: typed class attributes, validated with pydantic when a strategy is built."""

from __future__ import annotations

import sys
import typing
from typing import TYPE_CHECKING, Any, ClassVar

from quantkit.errors import ParameterError

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["parameter_model", "validate_parameters"]

_CACHE = "_quantkit_param_model"


def _is_classvar(hint: Any) -> bool:
    return hint is ClassVar or typing.get_origin(hint) is ClassVar


def _resolve(klass: type, name: str, annotation: Any) -> Any:
    """Evaluate a string annotation (``from __future__ import annotations``) in its module."""
    if not isinstance(annotation, str):
        return annotation
    namespace = vars(sys.modules[klass.__module__]) if klass.__module__ in sys.modules else {}
    try:
        return eval(annotation, dict(namespace), dict(vars(klass)))
    except Exception as exc:
        raise ParameterError(
            f"{klass.__name__}: cannot resolve the type {annotation!r} of parameter {name!r}: "
            f"{exc}",
            owner=klass.__name__,
            parameter=name,
        ) from exc


def parameter_model(cls: type, stop: type) -> type[BaseModel]:
    """Build (once per class) the pydantic model of ``cls``'s parameters.

    Parameters are the public annotated class attributes declared on ``cls`` and its bases
    below ``stop``; the attribute's value is the default.

    Args:
        cls: The class whose parameters to collect.
        stop: The framework base class whose own attributes are not parameters.

    Returns:
        A frozen pydantic model class that forbids unknown parameters.
    """
    cached = cls.__dict__.get(_CACHE)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    fields: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass is stop or not issubclass(klass, stop):
            continue
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            if name.startswith("_"):
                continue
            hint = _resolve(klass, name, annotation)
            if _is_classvar(hint):
                continue
            if hasattr(stop, name):
                raise ParameterError(
                    f"{cls.__name__}: parameter {name!r} would hide {stop.__name__}.{name}; "
                    "choose another name",
                    owner=cls.__name__,
                    parameter=name,
                )
            fields[name] = (hint, getattr(cls, name, ...))
    from pydantic import ConfigDict, create_model  # noqa: PLC0415 - loaded on first build

    model = create_model(
        f"{cls.__name__}Parameters",
        __config__=ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True),
        **fields,
    )
    setattr(cls, _CACHE, model)
    return model  # type: ignore[no-any-return]


def validate_parameters(cls: type, stop: type, values: dict[str, Any]) -> dict[str, Any]:
    """Validate parameter values for ``cls``.

    Args:
        cls: The class whose parameters to validate.
        stop: See `parameter_model`.
        values: The values given by the user.

    Returns:
        All parameters (defaults filled in), validated and converted.

    Raises:
        ParameterError: Naming the first invalid parameter and what was expected.
    """
    from pydantic import ValidationError  # noqa: PLC0415 - loaded on first build

    model = parameter_model(cls, stop)
    try:
        validated = model(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(part) for part in error["loc"]) or "?"
        known = ", ".join(model.model_fields) or "none"
        if error["type"] == "extra_forbidden":
            import difflib  # noqa: PLC0415 - only on errors

            close = difflib.get_close_matches(name, list(model.model_fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (parameters: {known})"
            message = f"{cls.__name__}: unknown parameter {name!r}{hint}"
        else:
            given = error.get("input", "missing")
            message = f"{cls.__name__}: parameter {name!r}: {error['msg']} (got {given!r})"
        raise ParameterError(message, owner=cls.__name__, parameter=name) from None
    return dict(validated)
