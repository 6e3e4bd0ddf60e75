from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def order_list(request):
    # Orders arrive with the orders issue (#5); until then the tab shows none.
    return render(request, "orders/list.html")
