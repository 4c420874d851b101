"""Receive one uploaded video (multipart/form-data) into the server's work folder, streaming.

The size limit is enforced while the body arrives: a declared Content-Length over the limit is
refused before a byte is read, and a body that grows past it (chunked, or lying about its
length) is refused at the chunk that crosses it. The file is saved under a generated name;
the client's file name is only ever shown back, reduced to a safe base name. Whatever ends the
upload early (too big, wrong type, the client gone, a cut body) removes the partial file.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

FILE_FIELD = "video"
# A multipart envelope (boundaries, part headers) around the file adds a few hundred bytes.
ENVELOPE_BYTES = 16 * 1024
# Part types a browser or curl sends for a video file; anything else is the wrong content type.
VIDEO_TYPE_PREFIX = "video/"
GENERIC_TYPES = ("application/octet-stream", "")
_UNSAFE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._ -]+")


class UploadError(Exception):
    """The upload is refused: `status` (4xx) and a one-line `message` for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class ClientGone(Exception):
    """The client disconnected before the body was complete (nothing to answer)."""


@dataclass
class SavedUpload:
    """An uploaded file on disk: its path in the work folder, the client's (cleaned) file name
    and its size in bytes. The caller owns the file and removes it."""

    path: str
    name: str
    size: int


def safe_name(filename: str) -> str:
    """The base name of a client's file name with only harmless characters, never empty, never
    a path: `../../etc/passwd` -> `passwd`, `C:\\clips\\a.mp4` -> `a.mp4`."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_NAME_CHARACTERS.sub("_", base).strip(" .")
    return cleaned[:120] or "upload"


def check_declared_length(content_length: str | None, max_bytes: int) -> None:
    """413 at once for a declared body larger than the limit allows."""
    if content_length is None:
        return
    try:
        declared = int(content_length)
    except ValueError:
        raise UploadError(400, f"bad Content-Length header {content_length!r}") from None
    if declared > max_bytes + ENVELOPE_BYTES:
        raise UploadError(413, f"upload of {declared} bytes is over the {max_bytes // 2**20} MiB limit (--max-upload-mb)")


def multipart_boundary(content_type: str | None) -> bytes:
    """The boundary of a multipart/form-data request; 415 for any other content type."""
    kind, options = parse_options_header(content_type or "")
    if kind != b"multipart/form-data":
        shown = kind.decode("latin-1") or "none"
        raise UploadError(415, f"content type {shown} is not multipart/form-data: send the video as the form field "
                               f"'{FILE_FIELD}'")
    boundary = options.get(b"boundary")
    if not boundary:
        raise UploadError(400, "multipart/form-data without a boundary")
    return boundary


class _FilePart:
    """Parser callbacks that write the file field to a temp file, counting its bytes."""

    def __init__(self, folder: str, max_bytes: int):
        self.folder = folder
        self.max_bytes = max_bytes
        self.path: str | None = None
        self.name = ""
        self.size = 0
        self.complete = False
        self._handle = None
        self._headers: dict[str, str] = {}
        self._field = b""
        self._value = b""
        self._in_file = False

    # header callbacks: accumulate "field: value" pairs of the current part
    def on_part_begin(self) -> None:
        self._headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._field.decode("latin-1").lower()] = self._value.decode("utf-8", "replace")
        self._field = self._value = b""

    def on_headers_finished(self) -> None:
        _, disposition = parse_options_header(self._headers.get("content-disposition", ""))
        field = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        self._in_file = field == FILE_FIELD and filename is not None and self.path is None
        if not self._in_file:
            return
        part_type = parse_options_header(self._headers.get("content-type", ""))[0].decode("latin-1")
        if not (part_type.startswith(VIDEO_TYPE_PREFIX) or part_type in GENERIC_TYPES):
            raise UploadError(415, f"the '{FILE_FIELD}' part has content type {part_type}, not a video/* type")
        self.name = safe_name(filename.decode("utf-8", "replace"))
        suffix = os.path.splitext(self.name)[1][:10]
        fd, self.path = tempfile.mkstemp(prefix="upload-", suffix=suffix, dir=self.folder)
        self._handle = os.fdopen(fd, "wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._in_file:
            return
        self.size += end - start
        if self.size > self.max_bytes:
            raise UploadError(413, f"upload is over the {self.max_bytes // 2**20} MiB limit (--max-upload-mb)")
        self._handle.write(data[start:end])

    def on_part_end(self) -> None:
        if self._in_file:
            self._handle.close()
            self._in_file = False

    def on_end(self) -> None:
        self.complete = True

    def callbacks(self) -> dict:
        return {name: getattr(self, name) for name in (
            "on_part_begin", "on_header_field", "on_header_value", "on_header_end", "on_headers_finished",
            "on_part_data", "on_part_end", "on_end")}

    def discard(self) -> None:
        if self._handle is not None:
            self._handle.close()
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path)


async def receive_upload(chunks: AsyncIterator[bytes], content_type: str | None, content_length: str | None,
                         folder: str, max_bytes: int) -> SavedUpload:
    """Parse the multipart body from `chunks` and save its `video` file field into `folder`.

    Raises `UploadError` (refused: too big, wrong type, no file, empty, cut short) or
    `ClientGone`; in both cases no file is left behind."""
    check_declared_length(content_length, max_bytes)
    part = _FilePart(folder, max_bytes)
    parser = MultipartParser(multipart_boundary(content_type), part.callbacks())
    try:
        try:
            async for chunk in chunks:
                parser.write(chunk)
        except UploadError:
            raise
        except ValueError as error:  # python-multipart's MultipartParseError and friends
            raise UploadError(400, f"malformed multipart body: {' '.join(str(error).split())[:160]}") from None
        except OSError as error:
            raise UploadError(507, f"cannot store the upload: {error.strerror}") from None
        except ClientDisconnect:
            raise ClientGone() from None
        if not part.complete:
            raise UploadError(400, "the multipart body ended before its closing boundary (upload cut short)")
        if part.path is None:
            raise UploadError(400, f"no file in the form field '{FILE_FIELD}'")
        if part.size == 0:
            raise UploadError(400, f"{part.name} is empty")
    except BaseException:
        part.discard()
        raise
    return SavedUpload(part.path, part.name, part.size)
