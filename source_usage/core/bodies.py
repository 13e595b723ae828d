"""Large pages, read one item at a time.

A page is parsed whole (orjson) when it is small, as every page of a well-behaved vendor is (100
items are some 25 KB). A vendor that ignores the page size can answer 100,000 items in one body:
parsed whole, such a page takes some five times its size in Python objects (23 MB of JSON, 112 MB
of dicts), on top of the body itself. So a large body is never parsed whole: its envelope (every
field but the list of items) is built without the items, and the items are parsed one at a time
from the body's bytes each time they are read (``ijson``, which the CDK already depends on, with
its C backend). Each reading costs a parse, so a large page is read in three passes (envelope,
survey, records) and holds only its bytes and one item at a time.
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict, Iterator, Optional

import ijson
import orjson

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
                digest.update(orjson.dumps(item, option=orjson.OPT_SORT_KEYS))
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
    is not an object whose ``field`` is a list (the caller then parses it whole, and its own checks
    say what is wrong). Raises ``ValueError`` (ijson's errors are ValueErrors) on a body that is
    not JSON."""
    builder = ijson.ObjectBuilder()
    top_level_object, items_are_a_list = False, False
    for prefix, event, value in ijson.parse(content, use_float=True):
        if prefix == "" and event == "start_map":
            top_level_object = True
        if prefix == field:
            items_are_a_list = items_are_a_list or event == "start_array"
            continue
        if prefix.startswith(field + ".") or (prefix == "" and event == "map_key" and value == field):
            continue
        builder.event(event, value)
    if not (top_level_object and items_are_a_list):
        return None
    body: Dict[str, Any] = builder.value
    body[field] = StreamedItems(content, field)
    return body
