"""Logistics pages: reports."""
