"""An export file as CSV records: bytes, encoding, delimiter, and the records with their lines.

The file is read whole, once, as bytes; its text is decoded as the records are parsed, never
held whole (a million-person export costs the size of its bytes, not four times its length).
``auto`` encoding tries UTF-8 (BOM or not), then cp1252; a UTF-16 BOM means UTF-16. Which one
fits is found while parsing: a file that turns out not to be UTF-8 is parsed again as cp1252
by a fresh consumer, so nothing of the failed attempt is kept.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import chain
from pathlib import Path
from typing import TypeVar

from connector.errors import InputError

T = TypeVar("T")
DELIMITERS = (",", ";", "\t", "|")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_PROBE_CHARS = 65536  # binary data is looked for in the first characters only
_HEAD_BYTES = 1 << 18  # decoded up front: the checks, and the header line for the delimiter

Records = Iterator[tuple[int, list[str]]]


class ExportFile:
    """The bytes of one export, checked to be CSV text (:meth:`load`), parsed by
    :meth:`parse`."""

    def __init__(
        self, path: Path, raw: bytes, encodings: tuple[str, ...], configured: bool, head: str
    ) -> None:
        self.path = path
        self.raw = raw
        self.encodings = encodings  # tried in order
        self.configured = configured
        self.head = head  # the decoded start of the text

    @classmethod
    def load(cls, path: Path, encoding: str, setting: str) -> ExportFile:
        """The file's bytes; :class:`InputError` when it cannot be read as a CSV at all."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError as exc:
            raise InputError(
                f"{path}: file not found; check {setting} or export the file") from exc
        except IsADirectoryError as exc:
            raise InputError(
                f"{path}: is a folder; set {setting} to the CSV file itself") from exc
        except OSError as exc:
            raise InputError(
                f"{path}: cannot read it ({exc.strerror}); check permissions") from exc
        if raw.startswith(b"PK\x03\x04"):
            raise InputError(
                f"{path}: is a ZIP or Excel workbook, not CSV; save it as CSV (UTF-8)")
        utf16 = raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        if b"\x00" in raw[:65536] and not utf16:
            raise InputError(f"{path}: holds binary data, not CSV text; export the file as CSV")
        configured = encoding.lower() != "auto"
        if configured:
            try:
                b"-".decode(encoding)  # an unknown codec, or one that is not a text encoding
            except LookupError as exc:
                raise InputError(
                    f"{path}: unknown encoding {encoding!r}; set directory.encoding to 'auto', "
                    "'utf-8' or 'cp1252'"
                ) from exc
            except ValueError:  # a text encoding that cannot read this one byte
                pass
            encodings: tuple[str, ...] = (encoding,)
        else:
            encodings = ("utf-16",) if utf16 else ("utf-8-sig", "cp1252")
        export = cls(path, raw, encodings, configured, "")
        export.head = export._head()
        if _CONTROL.search(export.head[:_PROBE_CHARS]):
            raise InputError(f"{path}: holds binary data, not CSV text; export the file as CSV")
        if not export.head.strip() and (len(raw) <= _HEAD_BYTES or not export._text().strip()):
            raise InputError(
                f"{path}: is empty; expected a header row and one row per person")
        return export

    def _strips_bom(self, encoding: str) -> bool:
        return self.configured or encoding == "utf-16"

    def _head(self) -> str:
        """The start of the text in the first encoding that reads it."""
        final = len(self.raw) <= _HEAD_BYTES
        for encoding in self.encodings:
            decoder = codecs.getincrementaldecoder(encoding)()
            try:
                head = decoder.decode(self.raw[:_HEAD_BYTES], final=final)
            except UnicodeDecodeError:
                if encoding is self.encodings[-1]:
                    raise self._decode_error(encoding) from None
                continue
            return head.removeprefix("\ufeff") if self._strips_bom(encoding) else head
        raise AssertionError("no encoding to try")  # pragma: no cover

    def _text(self) -> str:
        """The whole text (only for the rare check a prefix cannot answer)."""
        for encoding in self.encodings:
            try:
                return self.raw.decode(encoding)
            except UnicodeDecodeError:
                continue
        raise self._decode_error(self.encodings[-1])

    def _decode_error(self, encoding: str) -> InputError:
        path = self.path
        try:
            self.raw.decode(encoding)
        except UnicodeDecodeError as exc:
            start = exc.start
        else:  # pragma: no cover - only called once a decoding failed
            start = 0
        if self.configured:
            return InputError(
                f"{path}: not valid {encoding} text (byte {start}); set directory.encoding "
                "to the export's encoding, or 'auto'")
        if encoding == "utf-16":
            return InputError(f"{path}: broken UTF-16 text (byte {start})")
        return InputError(
            f"{path}: neither UTF-8 nor cp1252 text; set directory.encoding to the export's "
            "encoding")

    def lines(self, encoding: str) -> Iterator[str]:
        """The lines of the text as ``open(newline="")`` gives them, decoded as they come."""
        stream = io.TextIOWrapper(io.BytesIO(self.raw), encoding=encoding, newline="")
        first = stream.readline()
        if self._strips_bom(encoding):
            first = first.removeprefix("\ufeff")
        return chain((first,), stream)

    def records(self, encoding: str, delimiter: str, label: str) -> Records:
        return csv_rows(self.lines(encoding), delimiter, label)

    def parse(
        self, delimiter: str, label: str, consume: Callable[[Callable[[], Records]], T]
    ) -> T:
        """What ``consume`` makes of the records (see :func:`csv_rows`) in the first encoding
        that reads the whole file; :class:`InputError` when none does. ``consume`` is given a
        function that starts the records afresh each time it is called."""
        delimiter = delimiter if delimiter != "auto" else detect_delimiter(
            next((ln for ln in io.StringIO(self.head) if ln.strip()), ""))
        for encoding in self.encodings:
            try:
                return consume(partial(self.records, encoding, delimiter, label))
            except UnicodeDecodeError:
                if encoding is self.encodings[-1]:
                    raise self._decode_error(encoding) from None
        raise AssertionError("no encoding to try")  # pragma: no cover


def detect_delimiter(header_line: str) -> str:
    """The most frequent of , ; tab | outside quotes in the header line (',' when none)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])  # max keeps the first of equal counts
    return best if counts[best] else ","


def csv_rows(lines: Iterable[str], delimiter: str, label: str) -> Records:
    """(first line number, cells) per record, blank lines left out: the records of
    :func:`csv.reader`. A line without a quote is split at the delimiter as the reader would
    (the common case, twice as fast); a line with one, and the lines its record spans, go to
    the reader."""
    source = iter(lines)
    held: list[str] = []  # the line the reader is to start from

    def feed() -> Iterator[str]:
        while True:
            if held:
                yield held.pop()
            else:
                line = next(source, None)
                if line is None:
                    return
                yield line

    reader = csv.reader(feed(), delimiter=delimiter)
    limit = csv.field_size_limit()  # a longer field is the reader's error to raise
    number = 0  # the lines read
    for line in source:
        number += 1
        if '"' not in line and len(line) <= limit:
            row = line.rstrip("\r\n").split(delimiter)
            if row[0].strip() or (len(row) > 1 and "".join(row).strip()):
                yield number, row
            continue
        held.append(line)
        before = reader.line_num
        try:
            row = next(reader)
        except csv.Error as exc:
            raise InputError(
                f"{label}:{number + reader.line_num - before - 1}: cannot parse the CSV ({exc})"
            ) from exc
        first, number = number, number + reader.line_num - before - 1
        # a first cell with text is the common case: no need to join the row
        if row and (row[0].strip() or "".join(row).strip()):
            yield first, row
