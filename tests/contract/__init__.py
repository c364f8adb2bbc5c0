"""Contract suites: every implementation of an adapter kind passes the same tests."""
