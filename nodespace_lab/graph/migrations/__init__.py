"""Ordered schema migrations, recorded in the database and applied on open.

Each migration is a module `mNNN_<name>.py` with a `STATEMENTS` list. The
applied ones are recorded in the `Migration` table, so opening a database
applies exactly the missing ones, in order, each in its own transaction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import pkgutil
from typing import Any

from ...errors import StorageError

_BOOKKEEPING = (
    "CREATE NODE TABLE IF NOT EXISTS Migration(id STRING, applied_at TIMESTAMP, PRIMARY KEY(id))"
)


def available() -> list[str]:
    """Names of every migration shipped with the package, in order."""
    names = [m.name for m in pkgutil.iter_modules(__path__) if m.name[:1] == "m"]
    return sorted(names)


def applied(connection: Any) -> list[str]:
    """Names of the migrations recorded in the database."""
    connection.execute(_BOOKKEEPING)
    rows = connection.execute("MATCH (m:Migration) RETURN m.id ORDER BY m.id").get_all()
    return [row[0] for row in rows]


def pending(connection: Any) -> list[str]:
    """Migrations not yet applied (a dry run of `apply_migrations`)."""
    done = set(applied(connection))
    return [name for name in available() if name not in done]


def apply_migrations(connection: Any) -> list[str]:
    """Apply every pending migration; return the names applied."""
    todo = pending(connection)
    for name in todo:
        module = importlib.import_module(f"{__name__}.{name}")
        connection.execute("BEGIN TRANSACTION")
        try:
            for statement in module.STATEMENTS:
                connection.execute(statement)
            connection.execute(
                "CREATE (:Migration {id: $id, applied_at: $at})",
                {"id": name, "at": dt.datetime.now(dt.UTC).replace(tzinfo=None)},
            )
            connection.execute("COMMIT")
        except RuntimeError as exc:
            _rollback(connection)
            raise StorageError(
                f"Migration {name} failed: {exc}. The database is unchanged."
            ) from exc
    return todo


def _rollback(connection: Any) -> None:
    # The engine has usually rolled back already on the error itself.
    with contextlib.suppress(RuntimeError):
        connection.execute("ROLLBACK")
