"""flatfile-relay: move finished Flatfile imports into S3 and SQS.

The library behind the relay's Lambda functions, shipped as a SAM layer and importable without Lambda.

Example:
    >>> import flatfile_relay
    >>> flatfile_relay.__version__
    '0.1.0'
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
