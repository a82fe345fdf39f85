"""The `mar-insight` command line: a door of its own beside the dashboard, using only `data/`
and `queries/`."""
