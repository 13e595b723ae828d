"""Paging: one small object per paging scheme, holding its position and ending every loop.

In the manner of singer-sdk's ``BaseAPIPaginator`` and dlt's paginators: a pager is made for one
request slice, says what to send for the current page (:attr:`Pager.position`), and, given the
answer to it, moves to the next page or says there is none. Nothing re-parses the request already
sent: the position is the pager's.

A vendor that never stops saying "more" would otherwise be asked for ever, so every pager ends
the stream with an error naming the vendor and the endpoint when

- a page repeats the previous one (a server that ignores the page parameter),
- the next page does not move past the current one,
- an empty page still says there is more.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from typing import Any, Dict, Mapping, Optional, Sequence

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_usage.core.bodies import StreamedItems, item_digest
from source_usage.core.errors import answer_error


class PagingLoop(AirbyteTracedException):
    """The vendor's paging would never end."""


class Pager(ABC):
    """The position of one paged read. Subclasses say where the first page is and what follows."""

    #: What in an answer says there is more, for messages.
    signal: str = "the answer"

    def __init__(self, where: str, size: int = 0) -> None:
        #: ``<vendor> <endpoint>``, the start of every message.
        self.where = where
        #: Items asked for per page.
        self.size = size
        self.position: Dict[str, Any] = self.first_position()
        self._previous_page: Optional[bytes] = None

    @abstractmethod
    def first_position(self) -> Dict[str, Any]:
        """What to send for the first page (query parameters or body fields)."""

    @abstractmethod
    def following(self, body: Any, items: Sequence[Any]) -> Optional[Dict[str, Any]]:
        """The position after the current page, or ``None`` when the answer says it was the last."""

    def problem(self, body: Any) -> Optional[str]:
        """What makes an answer's paging signal unreadable (a stream's ``malformed`` asks), or
        ``None`` (default: the pager reads any answer)."""
        return None

    def advance(self, body: Any, items: Sequence[Any]) -> Optional[Dict[str, Any]]:
        """Move to the page after the one just answered (``body``, holding ``items``); ``None`` at the end."""
        following = self.following(body, items)
        if following is None:
            return None
        if not items:
            raise self.loop(f"an empty page says there is more ({self.signal})")
        fingerprint = self.fingerprint(items)
        if fingerprint == self._previous_page:
            raise self.loop("the page repeats the previous page")
        if following == self.position:
            raise self.loop("the next page is the same page")
        self._previous_page = fingerprint
        self.position = following
        return following

    @staticmethod
    def fingerprint(items: Sequence[Any]) -> bytes:
        """A digest of a page's items, one item at a time (a copy of a whole large page would
        double the memory it takes)."""
        if isinstance(items, StreamedItems):
            return items.fingerprint()  # made in the pass that checked the items
        digest = hashlib.blake2b(digest_size=16)
        for item in items:
            digest.update(item_digest(item))
        return digest.digest()

    def loop(self, what: str) -> PagingLoop:
        at = ", ".join(f"{name} {value}" for name, value in self.position.items())
        message = (
            f"{self.where}: paging does not end: {what} (page at {at}). "
            "The vendor's answers are inconsistent; retry later or report it to the vendor."
        )
        return PagingLoop(message=message, internal_message=message, failure_type=FailureType.system_error)


class SinglePage(Pager):
    """An endpoint that answers in one body."""

    def first_position(self) -> Dict[str, Any]:
        return {}

    def following(self, body: Any, items: Sequence[Any]) -> Optional[Dict[str, Any]]:
        return None


class SkipLimitPager(Pager):
    """``skip``/``limit`` sent by the client, a boolean ``more`` field in the answer (e.g.
    ``has_next``); the next ``skip`` counts the items received."""

    def __init__(self, where: str, size: int, more_field: str) -> None:
        self.signal = more_field
        super().__init__(where, size)

    def first_position(self) -> Dict[str, Any]:
        return {"skip": 0, "limit": self.size}

    def following(self, body: Any, items: Sequence[Any]) -> Optional[Dict[str, Any]]:
        if self.signal not in body:
            # No word on what follows: a short page was the last; after a full one, more may
            # follow (a renamed field, say ``has_more``), and taking it for the last would keep
            # the first page only, without a word.
            if len(items) < self.size:
                return None
            message = (
                f"{self.where} answered a full page ({len(items)} items) without '{self.signal}', so whether more pages "
                f"follow is unknown; rather than keep this page only, the sync stops (the vendor may have renamed '{self.signal}')."
            )
            raise answer_error(message)
        more = bool(body.get(self.signal))
        return {"skip": int(self.position["skip"]) + len(items), "limit": self.size} if more else None


class NextOffsetPager(Pager):
    """``offset``/``limit`` where the answer names the next page itself (e.g.
    ``meta.next: {limit, offset}``, null on the last page). A next offset that does not move
    forward is a loop too."""

    signal = "meta.next"

    def first_position(self) -> Dict[str, Any]:
        return {"offset": 0, "limit": self.size}

    def following(self, body: Any, items: Sequence[Any]) -> Optional[Dict[str, Any]]:
        following = (body.get("meta") or {}).get("next")
        if following is None:
            return None
        offset, limit = int(following["offset"]), following.get("limit")
        if offset <= int(self.position["offset"]):
            raise self.loop(f"{self.signal} does not move forward (offset {offset})")
        return {"offset": offset, "limit": limit if isinstance(limit, int) and limit > 0 else self.size}

    def problem(self, body: Any) -> Optional[str]:
        meta = body.get("meta") if isinstance(body, dict) else None
        if meta is not None and not isinstance(meta, dict):
            return "'meta' is not an object"
        following = (meta or {}).get("next")
        if following is not None and not (isinstance(following, dict) and is_offset(following.get("offset"))):
            return f"'{self.signal}' is neither null nor {{limit, offset}}"
        return None


class NextOffsetNumberPager(NextOffsetPager):
    """``offset``/``limit`` where the answer's ``meta.next`` is the next page's offset itself (an
    integer, null on the last page), e.g. Tabnine's invitations; the next page asks the same
    ``limit``. A next offset that does not move forward is a loop too."""

    def following(self, body: Any, items: Sequence[Any]) -> Optional[Dict[str, Any]]:
        offset = (body.get("meta") or {}).get("next")
        if offset is None:
            return None
        if int(offset) <= int(self.position["offset"]):
            raise self.loop(f"{self.signal} does not move forward (offset {offset})")
        return {"offset": int(offset), "limit": self.size}

    def problem(self, body: Any) -> Optional[str]:
        meta = body.get("meta") if isinstance(body, dict) else None
        if meta is not None and not isinstance(meta, dict):
            return "'meta' is not an object"
        following = (meta or {}).get("next")
        if following is not None and not is_offset(following):
            return f"'{self.signal}' is neither null nor an integer offset (it is {following!r})"
        return None


def is_offset(value: Any) -> bool:
    """An offset as JSON gives it: an integer, not a boolean."""
    return isinstance(value, int) and not isinstance(value, bool)


class PageNumberPager(Pager):
    """``page``/``per_page`` sent by the client; the first page with fewer items than asked for is
    the last."""

    signal = "a full page"

    def first_position(self) -> Dict[str, Any]:
        return {"page": 1, "per_page": self.size}

    def following(self, body: Any, items: Sequence[Any]) -> Optional[Dict[str, Any]]:
        full = len(items) >= self.size
        return {"page": int(self.position["page"]) + 1, "per_page": self.size} if full else None


class NextPageNumberPager(Pager):
    """``page``/``per_page`` sent by the client; the answer may name the next page's number, in a
    body field or in a response header (the field wins when both are there).

    - A named next page is followed; the body field present and null says the page was the last.
    - An answer that names no next page says nothing about the end: pages continue until one comes
      back empty. A server may cap a page below ``per_page``, so a short page need not be the last;
      the empty page costs one request, a short page taken for the last loses every later one.

    Besides every pager's loops, a named next page that is not after the current one is a loop.
    """

    def __init__(self, where: str, size: int, next_field: str, next_header: str) -> None:
        self.next_field = next_field
        self.next_header = next_header
        self.signal = f"{next_field} or {next_header}"
        #: The headers of the answer being advanced past (:meth:`answered`): the body has none.
        self.headers: Mapping[str, str] = {}
        super().__init__(where, size)

    def first_position(self) -> Dict[str, Any]:
        return {"page": 1, "per_page": self.size}

    def answered(self, headers: Mapping[str, str]) -> None:
        """Hand over the headers of the answer :meth:`advance` is about to read."""
        self.headers = headers

    def following(self, body: Any, items: Sequence[Any]) -> Optional[Dict[str, Any]]:
        current = int(self.position["page"])
        if isinstance(body, dict) and self.next_field in body:
            named, source = body[self.next_field], self.next_field
        else:
            named, source = self.header(self.next_header), self.next_header
            if named is None:  # no signal at all: only an empty page ends the listing
                return {"page": current + 1, "per_page": self.size} if items else None
        if named is None:
            return None
        following = self.page_number(named, source)
        if following <= current:
            raise self.loop(f"{source} names page {following}, which is not after page {current}")
        return {"page": following, "per_page": self.size}

    def header(self, name: str) -> Optional[str]:
        """A header of the answer by name, whatever its case; ``None`` when absent or blank."""
        value = next((value for key, value in self.headers.items() if key.lower() == name.lower()), None)
        return value if value and value.strip() else None

    def page_number(self, value: Any, source: str) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
        message = f"{self.where}: the answer's {source} is {value!r}, not a page number; the vendor's paging may have changed."
        raise answer_error(message)
