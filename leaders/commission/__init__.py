"""Leader commission (issue #7): rules, an append-only ledger, settlement,
PDF statements and withdrawals.

Public API for other apps (orders calls these inside its own transactions):

    from leaders.commission.services import earn_commission, reverse_commission_for_refund
    earn_commission(orders=[...])            # confirm_orders
    reverse_commission_for_refund(refund=r)  # refund_lines

Models live in leaders/commission/models.py and are imported by
leaders/models.py, so they belong to the `leaders` app.
"""
