"""Typed config dataclasses turned into command-line parsers.

Each command has one `@dataclass` config whose fields are declared with `arg(default, help)`. This
module turns it into an argparse parser (a flag per field, the help sentence shown by `--help`), and
back into a config instance, calling the config's `validate()` if it has one. A bad value is a
`UserError`: one line, exit status 2.

Why not tyro: its error output is a multi-line panel, and we want one clear line for every user
mistake; the mapping needed here (scalars, bools, Literals, Optionals and tuples) is small.

List-valued fields are typed tuples (`tuple[str, ...]`, `tuple[int, ...]`, `tuple[float, ...]`):
given on the command line comma-separated (`--rungs a,b,c`), saved in config.json as JSON lists and
loaded back as tuples.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from typing import Any, Literal, NoReturn, TypeVar, Union, get_args, get_origin

from kingme.common import UserError

T = TypeVar("T")


def arg(default: Any, help: str, **kwargs: Any) -> Any:
    """A dataclass field with a default value and a one-sentence help text."""
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"help": help, **kwargs})
    return dataclasses.field(default=default, metadata={"help": help, **kwargs})


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: `kingme CMD: error: ...`, exit status 2.

    Abbreviated options are refused (`--total` for `--total-steps`): a prefix that happens to be
    unique today could silently mean another option tomorrow, and resuming checks option names.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _tuple_item(tp: Any) -> Any:
    """The item type of `tuple[X, ...]`, or None when `tp` is not such a tuple."""
    if get_origin(tp) is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
    return None


def _converter(tp: Any, name: str) -> Any:
    item = _tuple_item(tp)
    if item is not None:
        conv_item = _converter(item, name)

        def conv_tuple(text: str) -> Any:
            return tuple(conv_item(part.strip()) for part in text.split(",") if part.strip())

        return conv_tuple
    if get_origin(tp) is Literal:
        choices = get_args(tp)

        def conv_literal(text: str) -> Any:
            for c in choices:
                if str(c) == text:
                    return c
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r} for --{name}: expected one of {', '.join(map(str, choices))}"
            )

        return conv_literal
    if tp in (int, float, str):

        def conv(text: str) -> Any:
            try:
                return tp(text)
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"invalid value {text!r} for --{name}: expected {tp.__name__}"
                ) from None

        return conv
    raise TypeError(f"unsupported config field type {tp!r} for {name}")


def add_config_args(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """Add one `--field-name` option per dataclass field of `cls`."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc,operator]
        tp, optional = _unwrap_optional(hints[f.name])
        if tp is bool:
            parser.add_argument(
                flag,
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=default,
                help=f"{help_text} (default: {default})",
            )
            continue
        conv = _converter(tp, f.name.replace("_", "-"))
        if optional:
            inner = conv

            def conv(text: str, _inner: Any = inner) -> Any:  # noqa: F811
                return None if text.lower() == "none" else _inner(text)

        item = _tuple_item(tp)
        if item is not None:
            metavar = f"{item.__name__.upper()},..."
            shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        elif get_origin(tp) is Literal:
            metavar, shown = "{" + ",".join(map(str, get_args(tp))) + "}", default
        else:
            metavar, shown = tp.__name__.upper(), default
        parser.add_argument(
            flag,
            dest=f.name,
            type=conv,
            default=default,
            metavar=metavar,
            help=f"{help_text} (default: {shown})",
        )


def config_from_args(cls: type[T], ns: argparse.Namespace, **overrides: Any) -> T:
    """Build a config from parsed arguments and validate it (`UserError` on a bad value)."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    values = {f.name: getattr(ns, f.name) for f in fields if f.init and hasattr(ns, f.name)}
    values.update(overrides)
    cfg = cls(**values)
    validate = getattr(cfg, "validate", None)
    if validate is not None:
        validate()
    return cfg


def config_to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def config_from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a saved config; unknown keys are an error (a foreign or newer config file)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise UserError(f"config has unknown fields for {cls.__name__}: {', '.join(unknown)}")
    hints = typing.get_type_hints(cls)
    values = dict(data)
    for key, value in data.items():
        tp, _ = _unwrap_optional(hints[key])
        if _tuple_item(tp) is not None and isinstance(value, list):
            values[key] = tuple(value)  # JSON holds tuples as lists
        elif _tuple_item(tp) is not None and isinstance(value, str):
            try:  # a config saved before list fields were tuples held "a,b,c"
                values[key] = _converter(tp, key)(value)
            except argparse.ArgumentTypeError as e:
                raise UserError(f"config field {key}: {e}") from None
    return cls(**values)


def require(cond: bool, message: str) -> None:
    """Raise a `UserError` with `message` unless `cond` holds (for `validate()` methods)."""
    if not cond:
        raise UserError(message)
