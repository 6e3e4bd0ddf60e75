"""The shopper's SMS sign-in, where allauth's own views fall short of what
Chinese apps do: a new code once a minute, each valid for the full timeout,
and 更换手机号 that really lets the number be changed."""

from __future__ import annotations

import time

from allauth.account.adapter import get_adapter
from allauth.account.internal.stagekit import clear_login
from allauth.account.views import ConfirmLoginCodeView
from allauth.core import ratelimit
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST


class SmsConfirmLoginCodeView(ConfirmLoginCodeView):
    """allauth's code entry. Its resend has no rate limit of its own and keeps
    the first code's deadline; here a resend counts against the same per-phone
    limit as asking for a code (one a minute, which the page counts down) and
    the new code gets the full LOGIN_BY_CODE_TIMEOUT."""

    def _resend_form_valid(self, form) -> HttpResponse:
        phone = self._process.state.get("phone") or ""
        if not ratelimit.consume(self.request, action="request_login_code", key=phone.lower()):
            get_adapter(self.request).add_message(
                self.request,
                messages.ERROR,
                message=_("Codes were requested too often. Please wait a minute and try again."),
            )
            return HttpResponseRedirect(
                self.passthrough_next_url(reverse("account_confirm_login_code"))
            )
        self._process.state["at"] = time.time()
        return super()._resend_form_valid(form)


confirm_login_code = SmsConfirmLoginCodeView.as_view()


@require_POST
def change_login_phone(request: HttpRequest) -> HttpResponse:
    """更换手机号: drop the pending code, back to the phone form (allauth would
    otherwise send every visit of that form back to the code page)."""
    clear_login(request)
    return HttpResponseRedirect(reverse("account_request_login_code"))
