"""The test helpers, one set for every folder (tests/ is on pytest's pythonpath: `from support.relay import Relay`)."""
