from .views import leader, shopper

app_name = "orders"

# Each views module owns its URL list: shopper pages under /orders/,
# the leader's pages under /orders/leader/.
urlpatterns = shopper.urlpatterns + leader.urlpatterns
