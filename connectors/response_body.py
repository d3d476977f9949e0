"""Reading a streamed HTTP response body against a deadline.

requests' timeout applies to each socket read, so a server that drips its body a byte at a time is
never timed out. Reading with `read1` (whatever one socket read brings) lets the caller's deadline be
checked between reads however slowly the bytes come.
"""

from __future__ import annotations

import time

import requests

_READ_CHUNK = 64 * 1024


def read_into(buffer: bytearray, response: requests.Response, deadline: float, limit: int | None = None) -> bool:
    """Append `response`'s body to `buffer` as it arrives; True once the body has ended, False when
    `deadline` (time.monotonic) passed or `limit` bytes are in first. urllib3's own errors (a read
    timeout, a connection broken off, a body that does not decode) propagate; `buffer` keeps what
    arrived before them."""
    while limit is None or len(buffer) < limit:
        if time.monotonic() > deadline:
            return False
        chunk = response.raw.read1(_READ_CHUNK if limit is None else limit - len(buffer), decode_content=True)
        if not chunk:
            return True
        buffer += chunk
    return False
