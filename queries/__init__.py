"""The metric layer: one function per metric, SQLAlchemy Core in, Polars DataFrame out."""
