"""Fixtures shared by every test directory live in tests/conftest.py."""
