"""Persistence: the only package that speaks SQLAlchemy.

Append-only tables, the hash-chained audit log with its database-level append lock,
repositories (which never commit) and the unit of work (which does).
"""
