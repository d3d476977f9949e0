"""Why a walk over an API's pages ended, as a value the poller decides on (move the incremental cursor
or not) rather than words it has to search; the words are for reports only."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StopReason(StrEnum):
    LAST_PAGE = "last_page"  # the pagination style saw no next page: everything was read
    PAGE_REPEATED = "page_repeated"  # a page held the same records as the one before: the API ignores the paging parameters
    LINK_LOOP = "link_loop"  # the next request is one already made: a cursor or link that loops
    MAX_PAGES = "max_pages"  # the page limit (api.max_pages) was reached with more pages to go


@dataclass(frozen=True)
class Stop:
    """Where and why paging stopped."""

    reason: StopReason
    page: int  # the page being asked for (LINK_LOOP, PAGE_REPEATED) or the last one read (others)

    def warning(self, style: str, max_pages: int) -> str | None:
        """The sentence a report shows, or None for a walk that simply ran out of pages."""
        if self.reason is StopReason.LINK_LOOP:
            return f"stopped at page {self.page}: the server sent back a page link already followed"
        if self.reason is StopReason.PAGE_REPEATED:
            return (
                f"stopped at page {self.page}: same records as page {self.page - 1} (does the API ignore the "
                f"{style} pagination parameters?)"
            )
        if self.reason is StopReason.MAX_PAGES:
            return f"stopped after api.max_pages = {max_pages} pages; the rest waits for the next poll"
        return None
