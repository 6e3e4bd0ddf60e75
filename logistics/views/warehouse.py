"""Logistics pages: warehouse."""
