from django.shortcuts import render


def me(request):
    """我的: the shopper's own corner; signed-out visitors are invited to sign in."""
    return render(request, "accounts/me.html")
