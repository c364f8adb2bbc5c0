"""Paginators: small objects that decide the next request from the last answer, with no I/O.

Cursor rules, per kind:

* :class:`NextUrlPaginator` (Graph ``@odata.nextLink``, Okta ``Link: rel="next"``): the first
  URL is the reader's; every later URL is the server's, followed **as given** (never built,
  never edited). The read ends when an answer has no next URL. A next URL seen before is a
  paging loop: the read is incomplete and raises.
* :class:`IndexPaginator` (SCIM ``startIndex``/``count``, 1-based): the next index is the last
  index plus the items the page held. The read ends when the index passes ``totalResults`` or a
  page is empty. A page that only repeats ids already read is a loop; a ``totalResults`` that
  changes during the read means the directory changed under the pages (items may be skipped):
  both raise.

Each raises :class:`~connector.errors.UnavailableError` (a later read may succeed), never a
partial result, and stops after ``max_pages`` pages.
"""

from __future__ import annotations

from collections.abc import Iterable

from connector.errors import UnavailableError

MAX_PAGES = 1_000_000


class PagingError(UnavailableError):
    """The server's pages do not add up to a complete read."""


class NextUrlPaginator:
    """Follows opaque next URLs until there are none."""

    def __init__(self, first_url: str, what: str, *, max_pages: int = MAX_PAGES) -> None:
        self.what = what
        self.current: str | None = first_url
        self.pages = 0
        self.max_pages = max_pages
        self._seen = {first_url}

    @property
    def finished(self) -> bool:
        return self.current is None

    def advance(self, next_url: str | None) -> None:
        """Record the answer's next URL (None when it had none)."""
        self.pages += 1
        if next_url is None or next_url == "":
            self.current = None
            return
        if next_url in self._seen:
            raise PagingError(
                f"the server sent a page link it had sent before while reading {self.what} "
                f"(a paging loop after {self.pages} page(s)); the read is incomplete"
            )
        if self.pages >= self.max_pages:
            raise PagingError(f"more than {self.max_pages} pages while reading {self.what}")
        self._seen.add(next_url)
        self.current = next_url


class IndexPaginator:
    """startIndex/count paging (1-based, as SCIM)."""

    def __init__(self, what: str, count: int, *, max_pages: int = MAX_PAGES) -> None:
        self.what = what
        self.count = count
        self.start_index: int | None = 1
        self.total: int | None = None
        self.pages = 0
        self.max_pages = max_pages
        self._ids: set[str] = set()

    @property
    def finished(self) -> bool:
        return self.start_index is None

    def advance(self, total: int, items: int, ids: Iterable[str]) -> None:
        """Record one page: the server's ``totalResults``, the items it held and their ids."""
        assert self.start_index is not None, "advance() after the last page"
        self.pages += 1
        if self.total is not None and total != self.total:
            raise PagingError(
                f"{self.what} changed during the read (totalResults {self.total} then "
                f"{total}); read again"
            )
        self.total = total
        new = [i for i in ids if i not in self._ids]
        if items and not new:
            raise PagingError(
                f"page {self.pages} of {self.what} (startIndex {self.start_index}) only "
                "repeats what earlier pages held (a paging loop); the read is incomplete"
            )
        self._ids.update(new)
        next_index = self.start_index + items
        if items == 0 or next_index > total:
            if len(self._ids) < total:
                raise PagingError(
                    f"{self.what}: the server said {total} but its pages held "
                    f"{len(self._ids)}; the read is incomplete"
                )
            self.start_index = None
            return
        if self.pages >= self.max_pages:
            raise PagingError(f"more than {self.max_pages} pages while reading {self.what}")
        self.start_index = next_index
