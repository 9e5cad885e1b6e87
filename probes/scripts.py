"""The page scripts in `probes/js/`, loaded once and wrapped for `page.evaluate`.

Keeping JavaScript in .js files (package data) rather than Python strings lets editors and linters read it.
Each script except `init.js` is the body of `(args) => { ... }` with `common.js` prepended.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_JS_DIR = Path(__file__).parent / "js"


@cache
def _read(name: str) -> str:
    return (_JS_DIR / f"{name}.js").read_text(encoding="utf-8")


def init_script() -> str:
    """Installed with `context.add_init_script` before navigation: vendor events and live-region texts."""
    return _read("init")


@cache
def page_function(name: str) -> str:
    """`extract`, `captcha`, `banners`, `state` or `validity` as a function expression for `evaluate`."""
    return f"(args) => {{\n{_read('common')}\n{_read(name)}\n}}"
