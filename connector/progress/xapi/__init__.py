"""Completion statements from a Learning Record Store (xAPI 1.0.3): models, client, collection."""
