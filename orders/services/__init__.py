"""Every write of the orders app, split by sub-domain.

- cart.py: the shopper's cart
- checkout.py: place_order (prices, snapshots, stock)
- transitions.py: the guarded state machine
- payments.py: prepay, notifications, expiry and lost payments
- refunds.py: refunds recorded, then sent by one task each
- cancellation.py: the shopper cancels a paid order before its cutoff (取消并退款)
- lifecycle.py: confirmation and completion
"""
