"""Storage: SQLAlchemy 2 models, Alembic migrations, and the store."""
