"""Benchmarks: NodeSpace Lab next to hand-written Cypher on the raw engine.

Run with `make bench` or `python -m tests.benchmarks.run --sizes 100000,1000000`.
"""
