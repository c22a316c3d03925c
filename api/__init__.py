"""HTTP surface of Newsgraph: the Starlette app, CLI and process-level plumbing."""
