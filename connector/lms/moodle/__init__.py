"""The Moodle target: a REST web-services client, the LMS target on top of it, and a sandbox
that speaks the same protocol for tests and the demo."""

from connector.lms.moodle.client import MoodleClient, chunks, count_pairs, flatten
from connector.lms.moodle.target import REQUIRED_FUNCTIONS, MoodleTarget

__all__ = ["REQUIRED_FUNCTIONS", "MoodleClient", "MoodleTarget", "chunks", "count_pairs", "flatten"]
