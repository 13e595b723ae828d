"""Reading a vendor's JSON body as it was sent: no number rounded, no string refused, large pages
one item at a time.

A body is parsed with orjson, fast, unless orjson would change or refuse what the vendor sent:

- an integer beyond 64 bits (orjson turns it into a float, so 2**64 + 1 becomes 2**64 and
  -2**63 - 1 becomes -2**63): any run of 19 or more digits sends the body to the standard
  library's parser, which keeps every integer exact (a column that cannot hold it fails later,
  naming it: ``core.streams``);
- a lone surrogate escape in a string (``"\\ud83d"``, a truncated emoji: legal JSON, which orjson
  refuses): kept, and printed escaped as it came;
- ``NaN`` or ``Infinity`` (not JSON, but what some servers print): :class:`BodyProblem` naming the
  field, at once, instead of retries of "not JSON";
- a UTF-8 byte order mark before the body: skipped, as JSON parsers of other languages do.

A page is parsed whole when it is small, as every page of a well-behaved vendor is (100 items
are some 25 KB). A vendor that ignores the page size can answer 100,000 items in one body:
parsed whole, such a page takes some five times its size in Python objects (23 MB of JSON, 112 MB
of dicts), on top of the body itself. So a large body is never parsed whole: its envelope (every
field but the list of items) is built without the items, and the items are parsed one at a time
from the body's bytes each time they are read (``ijson``, which the CDK already depends on, with
its C backend). Each reading costs a parse, so a large page is read in three passes (envelope,
survey, records) and holds only its bytes and one item at a time. A large body that ijson cannot
read (an integer beyond 64 bits, a NaN) is parsed whole by the standard library instead.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Dict, Iterator, List, Optional

import ijson
import orjson

#: What a UTF-8 body may start with (a byte order mark), which orjson refuses.
UTF8_BOM = b"\xef\xbb\xbf"
#: A digit run this long may be an integer beyond 64 bits (2**63 has 19 digits).
LONG_DIGITS = re.compile(rb"[0-9]{19,}")


class NotJson(ValueError):
    """A body that does not parse as JSON."""


class BodyProblem(ValueError):
    """A JSON body the connector will not read as it stands; the message names the field."""


class _NotANumber(float):
    """``NaN``, ``Infinity`` or ``-Infinity`` as the standard library read it, remembering its text."""

    text: str

    def __new__(cls, text: str) -> _NotANumber:
        made = super().__new__(cls, text.replace("Infinity", "inf"))
        made.text = text
        return made


def parse_json(content: bytes) -> Any:
    """``content`` parsed as the vendor sent it (see the module's docstring). Raises
    :class:`NotJson` for a body that is not JSON, :class:`BodyProblem` for one the connector
    refuses, naming the field."""
    if content.startswith(UTF8_BOM):
        content = content[len(UTF8_BOM) :]
    if LONG_DIGITS.search(content) is None:
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError as error:
            return _exactly(content, str(error))
    return _exactly(content, None)


def _exactly(content: bytes, orjson_error: Optional[str]) -> Any:
    """The standard library's reading: exact integers of any size, lone surrogates kept, a NaN named."""
    found: List[_NotANumber] = []

    def not_a_number(text: str) -> _NotANumber:
        value = _NotANumber(text)
        found.append(value)
        return value

    try:
        body = json.loads(content, parse_constant=not_a_number)
    except ValueError as error:  # json's JSONDecodeError, or bytes that are not UTF-8
        raise NotJson(orjson_error or str(error)) from None
    if found:
        path = path_of(body, lambda value: isinstance(value, _NotANumber)) or "the body"
        raise BodyProblem(f"'{path}' is {found[0].text}, which is not a number JSON allows")
    return body


def path_of(value: Any, match: Any, prefix: str = "") -> Optional[str]:
    """The dotted path (list items by index) of the first value in ``value`` for which
    ``match(value)`` holds, or ``None``."""
    if match(value):
        return prefix
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found = path_of(child, match, f"{prefix}.{key}" if prefix else str(key))
        if found is not None:
            return found
    return None


def item_digest(item: Any) -> bytes:
    """One item's bytes for a page's digest, whatever it holds (orjson cannot write an integer
    beyond 64 bits or a lone surrogate; the standard library can)."""
    try:
        return orjson.dumps(item, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return json.dumps(item, sort_keys=True).encode()


#: Bodies larger than this (bytes) are read item by item.
LARGE_BODY = 4 * 1024 * 1024


class StreamedItems:
    """The list of items of one large page, parsed from ``content`` on every iteration."""

    def __init__(self, content: bytes, field: str) -> None:
        self._content = content
        self._field = field
        self._survey: Optional[tuple[int, bytes, Optional[int]]] = None

    def __iter__(self) -> Iterator[Any]:
        return iter(ijson.items(self._content, f"{self._field}.item", use_float=True))

    def survey(self) -> tuple[int, bytes, Optional[int]]:
        """One pass: how many items, their digest (as ``Pager.fingerprint`` makes it), and the
        index of the first item that is not an object (``None``: all are)."""
        if self._survey is None:
            digest = hashlib.blake2b(digest_size=16)
            count, not_object = 0, None
            for item in self:
                if not_object is None and not isinstance(item, dict):
                    not_object = count
                digest.update(item_digest(item))
                count += 1
            self._survey = (count, digest.digest(), not_object)
        return self._survey

    def __len__(self) -> int:
        return self.survey()[0]

    def fingerprint(self) -> bytes:
        return self.survey()[1]

    def first_not_object(self) -> Optional[int]:
        return self.survey()[2]


def large_page(content: bytes, field: str) -> Optional[Dict[str, Any]]:
    """The body of a large page, ``field`` being a :class:`StreamedItems`; ``None`` when the body
    is not an object whose ``field`` is a list, or one ijson cannot read (not JSON, an integer
    beyond 64 bits, a NaN, a byte order mark): the caller then parses it whole, which keeps what
    can be kept and names what cannot."""
    builder = ijson.ObjectBuilder()
    top_level_object, items_are_a_list = False, False
    try:
        for prefix, event, value in ijson.parse(content, use_float=True):
            if prefix == "" and event == "start_map":
                top_level_object = True
            if prefix == field:
                items_are_a_list = items_are_a_list or event == "start_array"
                continue
            if prefix.startswith(field + ".") or (prefix == "" and event == "map_key" and value == field):
                continue
            builder.event(event, value)
    except (ijson.JSONError, ValueError):  # ijson's errors are not ValueErrors; its backends' may be
        return None
    if not (top_level_object and items_are_a_list):
        return None
    body: Dict[str, Any] = builder.value
    body[field] = StreamedItems(content, field)
    return body
