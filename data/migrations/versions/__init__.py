"""One module per schema revision; Alembic loads them by file, in the order they name."""
