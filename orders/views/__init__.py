"""Orders pages: shopper.py (cart, checkout, pay, my orders, claims, messages)
and leader.py (the day's orders at a pickup point, sign-off, hand-out)."""
