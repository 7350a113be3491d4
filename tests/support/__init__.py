"""Helpers shared by test folders (tests/ is on pytest's pythonpath: `from support.export_harness import ...`)."""
