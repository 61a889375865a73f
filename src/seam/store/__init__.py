"""Storage: the only package that speaks SQL (SQLAlchemy Core), for SQLite and PostgreSQL."""
