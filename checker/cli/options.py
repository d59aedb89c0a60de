"""The model options every command that builds a model shares: ``--spec`` and parameters.

``--spec`` names a protocol of the kit or a user's file (``path/to/file.py:NAME``);
``--param name=value`` sets any parameter the protocol declares, typed and checked by its
bundle; a protocol may also give a parameter an option of its own (a ``flag``, such as
``--servers``). A parameter not set keeps the model's own default.
"""

from __future__ import annotations

import argparse
from typing import Any

from checker.errors import ElectkitError
from checker.protocols.bundle import Bundle, Param, ParamError, shown
from checker.protocols.registry import (
    DEFAULT,
    KIT_BUNDLES,
    bundle_named,
    resolve,
    user_model_errors,
)
from spec.model import Model, ModelError


def _flags() -> dict[str, Param]:
    """Every dedicated parameter option of the kit's protocols, by its flag."""
    flags: dict[str, Param] = {}
    for name in KIT_BUNDLES:
        for param in bundle_named(name).params:
            if param.flag is not None:
                flags.setdefault(param.flag, param)
    return flags


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--spec``, ``--param`` and the protocols' own parameter options to ``parser``."""
    parser.add_argument(
        "--spec",
        default=DEFAULT,
        metavar="NAME",
        help=f"the protocol: {', '.join(KIT_BUNDLES)} (default: {DEFAULT}), or a model or "
        "bundle of your own as path/to/file.py:NAME",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a model parameter (repeatable); the protocol's parameters are listed by "
        "`electkit check --spec NAME --list-params`",
    )
    parser.add_argument(
        "--list-params", action="store_true", help="list the protocol's parameters and exit"
    )
    for flag, param in _flags().items():
        dest = f"param_{param.name}"
        if param.type is bool:
            parser.add_argument(
                flag,
                dest=dest,
                action="store_const",
                const=not param.default,
                default=argparse.SUPPRESS,
                help=f"{param.help}: sets {param.name} to {shown(not param.default)} "
                f"(default {shown(param.default)})",
            )
        else:
            parser.add_argument(
                flag,
                dest=dest,
                default=argparse.SUPPRESS,
                metavar=param.name.upper(),
                help=f"{param.help} (the parameter {param.name}; default {shown(param.default)})",
            )


def parameters_from_args(bundle: Bundle, args: argparse.Namespace, search: bool) -> dict[str, Any]:
    """The parameters the options set, each checked; one line names a bad one (exit 2).

    ``search``: also hold each parameter to the bound an exhaustive search accepts.
    """
    values: dict[str, Any] = {}
    for flag, param in _flags().items():
        raw = getattr(args, f"param_{param.name}", None)
        if raw is None:
            continue
        try:
            target = bundle.param(param.name)
        except ParamError:
            raise ElectkitError(
                f"{flag}: {bundle.name} has no parameter {param.name!r}; valid: "
                f"{', '.join(p.name for p in bundle.params) or 'none'}"
            ) from None
        values[param.name] = _parse(target, raw, flag, flag)
    for item in args.param:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise ElectkitError(f"--param {item!r}: expected NAME=VALUE")
        try:
            target = bundle.param(name.strip())
        except ParamError as exc:
            raise ElectkitError(f"--param {item!r}: {exc}") from None
        values[target.name] = _parse(target, raw.strip(), f"--param {item!r}")
    if search:
        for name, value in values.items():
            high = bundle.param(name).search_high
            if high is not None and value is not None and value > high:
                raise ElectkitError(
                    f"{name} = {value}: an exhaustive search of {bundle.name} is bounded here to "
                    f"{name} <= {high} (the state space grows exponentially); `electkit prove` "
                    "covers every size where the protocol has a proof"
                )
    return values


def _parse(param: Param, raw: Any, where: str, flag: str | None = None) -> Any:
    try:
        return param.check(raw) if not isinstance(raw, str) else param.parse(raw)
    except ParamError as exc:
        message = str(exc)
        if flag is not None and message.startswith(param.name + " "):
            raise ElectkitError(flag + message[len(param.name) :]) from None
        raise ElectkitError(f"{where}: {message}") from None


def model_from_args(args: argparse.Namespace, search: bool = False) -> tuple[Bundle, Model]:
    """The bundle and model the options name; bad values become one clear line (exit 2)."""
    try:
        bundle = resolve(args.spec)
    except ElectkitError as exc:
        raise ElectkitError(f"--spec: {exc}") from None
    if getattr(args, "list_params", False):
        raise ListParams(bundle)
    values = parameters_from_args(bundle, args, search)
    try:
        with user_model_errors(bundle):
            return bundle, bundle.build(**values)
    except (ModelError, ParamError) as exc:
        raise ElectkitError(f"--spec {args.spec}: {exc}") from None


class ListParams(Exception):
    """``--list-params`` was given: the command prints them instead of running."""

    def __init__(self, bundle: Bundle) -> None:
        super().__init__(bundle.name)
        self.bundle = bundle

    def text(self) -> str:
        lines = [f"{self.bundle.name}: {self.bundle.summary}", "parameters (--param NAME=VALUE):"]
        lines += [
            f"  {p.describe()}" + (f" [{p.flag}]" if p.flag else "") for p in self.bundle.params
        ]
        if self.bundle.variants:
            lines.append("variants (--param variant=NAME):")
            lines += [f"  {name}: {text}" for name, text in self.bundle.variants.items()]
        return "\n".join(lines)
