"""LSP framing: `Content-Length: N\r\n\r\n` followed by N bytes of UTF-8 JSON."""
import json
from typing import Any, List, Optional

MAX_HEADER_BYTES = 8192


class FramingError(Exception):
    """The peer sent bytes that are not a valid LSP frame."""


def encode_frame(message: Any) -> bytes:
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class FrameDecoder:
    """Incremental decoder: feed any chunks of bytes, get complete decoded messages back."""

    def __init__(self, max_body_bytes: int = 256 * 1024 * 1024) -> None:
        self._buffer = bytearray()
        self._body_length: Optional[int] = None
        self._max_body = max_body_bytes

    def feed(self, data: bytes) -> List[Any]:
        self._buffer += data
        messages: List[Any] = []
        while True:
            if self._body_length is None:
                end = self._buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(self._buffer) > MAX_HEADER_BYTES:
                        raise FramingError("header longer than %d bytes" % MAX_HEADER_BYTES)
                    return messages
                self._body_length = self._parse_header(bytes(self._buffer[:end]))
                del self._buffer[: end + 4]
            if len(self._buffer) < self._body_length:
                return messages
            body = bytes(self._buffer[: self._body_length])
            del self._buffer[: self._body_length]
            self._body_length = None
            messages.append(json.loads(body.decode("utf-8")))

    def _parse_header(self, header: bytes) -> int:
        length = None
        for line in header.split(b"\r\n"):
            name, sep, value = line.partition(b":")
            if not sep:
                raise FramingError("malformed header line %r" % line)
            if name.strip().lower() == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    raise FramingError("Content-Length is not a number: %r" % value) from None
        if length is None or length < 0:
            raise FramingError("missing Content-Length")
        if length > self._max_body:
            raise FramingError("body of %d bytes exceeds the limit" % length)
        return length
