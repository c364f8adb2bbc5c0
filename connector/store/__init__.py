"""The state database: runs and their lock, the journal of changes, what was applied on each
target, and the completions collected. Open it with :meth:`Store.open`."""

from connector.store.records import JournalEntry, RunRecord
from connector.store.store import Store

__all__ = ["JournalEntry", "RunRecord", "Store"]
