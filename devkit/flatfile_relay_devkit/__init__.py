"""Development kit for flatfile-relay: never deployed, never imported in Lambda.

- :mod:`flatfile_relay_devkit.emulator` — a Flatfile API emulator on 127.0.0.1 (standard library only), for
  developing and testing against Flatfile without an account: ``python -m flatfile_relay_devkit.emulator``.
- :mod:`flatfile_relay_devkit.local` — the local runner behind ``make run``: the template's resources in a
  moto server, the handlers invoked the way Lambda would (needs the ``local`` extra: moto, PyYAML).
"""
