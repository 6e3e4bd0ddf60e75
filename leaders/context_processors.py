def pickup_point(request):
    """The shopper's chosen pickup point for every page (filled by the leaders issue, #4)."""
    return {"current_pickup_point": None}
