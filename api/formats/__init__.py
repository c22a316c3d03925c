"""Syndication formats: pure renderers from reader.Item to bytes or JSON-ready objects."""
