"""Calculated fields: an expression language, the plan of what reads what, and the engine
that keeps stored values right as their inputs change (DESIGN.md, data model)."""
