"""Warnings in the shell: `warning: ...` on stderr instead of Python's file:line format."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import click

from ..config import UntrustedSettingWarning


@contextmanager
def warnings_as_notes() -> Iterator[None]:
    """Show an `UntrustedSettingWarning` as `warning: ...` on stderr, not as Python code."""

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if issubclass(category, UntrustedSettingWarning):
            click.echo(f"warning: {message}", err=True)
        else:
            original(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():
        original = warnings.showwarning
        warnings.showwarning = show
        yield
