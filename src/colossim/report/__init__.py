"""Presentation: terminal tables and JSON documents built from result objects."""
