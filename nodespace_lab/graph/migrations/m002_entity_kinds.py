"""Entity schemas: one row per user-defined kind, its fields as JSON (see entities/store.py)."""

STATEMENTS = [
    """CREATE NODE TABLE EntityKind(
        name STRING, spec STRING, version INT64, updated_at TIMESTAMP,
        PRIMARY KEY(name))""",
]
