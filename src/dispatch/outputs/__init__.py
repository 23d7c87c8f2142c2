"""Outputs: the Output protocol, the registry, and one module per built-in output."""
