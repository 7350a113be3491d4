"""One line naming what went wrong, for the operator's answers (secrets are redacted).

Example:
    >>> describe(ValueError("licenseKey is empty"))
    'ValueError: licenseKey is empty'
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from flatfile_relay.redaction import redact

__all__ = ["describe"]


def describe(error: BaseException) -> str:
    """What went wrong: the relay's errors as they are (they name the fix), AWS's with the refused call."""
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        text = f"AWS refused {error.operation_name}: {info.get('Code', 'error')}: {info.get('Message', '')}"
    elif isinstance(error, BotoCoreError):
        text = f"AWS call failed: {error}"
    elif type(error).__module__.startswith("flatfile_relay."):
        text = str(error)  # the relay's own errors name the problem and the fix
    else:
        text = f"{type(error).__name__}: {error}"
    return redact(text.rstrip(": "))
