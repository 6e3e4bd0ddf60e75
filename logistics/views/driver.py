"""Logistics pages: driver."""
