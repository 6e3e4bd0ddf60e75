"""The leader's side of orders (issue #5): filled in by the pickup work."""

urlpatterns: list = []
