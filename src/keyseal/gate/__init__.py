"""Verifies every signed request: cache → checks → limiter → usage."""
