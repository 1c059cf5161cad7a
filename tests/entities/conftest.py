"""The command-line fixtures of tests/test_cli.py, for the entity commands' tests."""

from tests.test_cli import cli_env, kb_path, run  # noqa: F401  (fixtures, found by name)
