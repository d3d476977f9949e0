"""The receiver's HTTP/1.1 protocol: uvicorn's, except that a request it cannot parse (a control
character in a header, a space in the path, a non-numeric Content-Length) is answered like every other
error, with the JSON error body, instead of uvicorn's plain-text "Invalid HTTP request received.".

Such a request never reaches the app (no route, no handler), so only the protocol can answer it."""

from __future__ import annotations

import json

from uvicorn.protocols.http.h11_impl import H11Protocol

MALFORMED_REQUEST = (
    "malformed HTTP request: the request line or a header cannot be parsed "
    "(e.g. a control character in a header value, or a space in the path)"
)
BODY = json.dumps({"detail": MALFORMED_REQUEST}).encode()

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # httptools is optional for uvicorn; h11 answers the same way
    _Base = H11Protocol  # type: ignore[assignment,misc]


class JsonErrorsProtocol(_Base):  # type: ignore[misc,valid-type]
    """uvicorn's fastest available protocol, with a JSON 400 for an unparsable request."""

    def send_400_response(self, msg: str) -> None:
        headers = b"".join(name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers)
        self.transport.write(
            b"HTTP/1.1 400 Bad Request\r\n"
            + headers
            + b"content-type: application/json\r\ncontent-length: "
            + str(len(BODY)).encode()
            + b"\r\nconnection: close\r\n\r\n"
            + BODY
        )
        self.transport.close()
