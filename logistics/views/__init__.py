"""Logistics pages, one module per audience: warehouse, purchasing, driver, reports."""
