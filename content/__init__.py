"""The rules of the content model: derived figures, text rendering and slugs. No I/O."""
