"""Logistics services, split by sub-domain: wave (the nightly cutoff), purchasing
(purchase orders, receiving, shortage cuts), runs (drivers: depart, arrive, hand
over), routing (stop order by the VROOM solver), uncollected (goods nobody came for).
"""
