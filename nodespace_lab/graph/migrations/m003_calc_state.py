"""Bookkeeping of calculated fields: which definitions and which day they were computed for."""

STATEMENTS = [
    "CREATE NODE TABLE CalcState(key STRING, value STRING, PRIMARY KEY(key))",
]
