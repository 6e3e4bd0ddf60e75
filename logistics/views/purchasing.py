"""Logistics pages: purchasing."""
