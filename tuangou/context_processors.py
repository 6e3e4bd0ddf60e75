from django.conf import settings
from django.utils.translation import gettext as _


def site(request):
    return {"SITE_NAME": _("Neighbourhood Buy"), "SITE_URL": settings.SITE_URL}
