"""Persistence: SQLAlchemy Core tables, Alembic migrations and one repository per concept.
The only package that speaks SQL."""
