"""Run the relay on one machine: moto for AWS, the bundled emulator for Flatfile, handlers invoked like Lambda.

Development tooling only (needs the dev dependencies: moto, PyYAML); Lambda never imports it.
"""
