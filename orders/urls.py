from .views import files, leader, shopper

app_name = "orders"

# Each views module owns its URL list: shopper pages under /orders/,
# the leader's pages under /orders/leader/, private files (checked) in files.py.
urlpatterns = shopper.urlpatterns + leader.urlpatterns + files.urlpatterns
