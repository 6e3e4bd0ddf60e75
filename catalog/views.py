from django.shortcuts import render


def home(request):
    # The storefront arrives with the catalog issue (#3).
    return render(request, "catalog/home.html")


def categories(request):
    return render(request, "catalog/categories.html")
