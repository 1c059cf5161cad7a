"""Tests of the AI backends, templates, structured output and the features built on them."""
