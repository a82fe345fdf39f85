"""The licence and installation database: settings, schema, demo data and CSV import."""
