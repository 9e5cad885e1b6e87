"""What every command shares: the consoles and the --config option."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])

# soft_wrap: long lines (paths, messages) stay whole, so they can be copied and grepped.
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
if not console.is_terminal:  # piped or logged: rich would assume 80 columns and squeeze the tables
    console.width = 120


def config_option(fn: F) -> F:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=Path("companies.yaml"),
        show_default=True,
        help="The audit's configuration file.",
    )(fn)
