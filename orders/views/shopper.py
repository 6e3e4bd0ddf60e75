from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path


@login_required
def order_list(request):
    # Replaced by the shopper pages of issue #5.
    return render(request, "orders/list.html")


urlpatterns = [
    path("", order_list, name="list"),
]
