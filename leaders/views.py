"""Leader desk, the application form, the choose page and share links. Thin:
parse input, call a selector or a service, render."""

from __future__ import annotations

import functools
import mimetypes
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from catalog import selectors as catalog_selectors
from tuangou.private_files import serve_private_file

from . import catalog_bridge, selectors, services, sharing
from .forms import (
    AddressChangeForm,
    ApplicationForm,
    NewPointForm,
    PauseForm,
    PhotoForm,
    PointSettingsForm,
)
from .models import (
    ApplicationStatus,
    Leader,
    LeaderApplication,
    PickupPoint,
    PickupPointPause,
    PickupPointPhoto,
)

SMS_LOGIN_URL_NAME = "account_request_login_code"
SHARE_PRODUCTS_ON_HOME = 6


def _error_text(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


def _login(request: HttpRequest) -> HttpResponse:
    return redirect_to_login(request.get_full_path(), reverse(SMS_LOGIN_URL_NAME))


# --- leader access ------------------------------------------------------------------


def leader_required(view):
    """Only approved, active leaders: others go to the application (or get a 403 page)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return _login(request)
        leader = selectors.leader_for_user(user=request.user)
        if leader is None:
            application = selectors.latest_application_for_user(user=request.user)
            if application is not None:
                return redirect("leaders:application")
            messages.info(request, _("The leader desk is for approved leaders. Apply here."))
            return redirect("leaders:apply")
        if not leader.is_active:
            return render(request, "leaders/suspended.html", {"leader": leader}, status=403)
        request.leader = leader
        return view(request, *args, **kwargs)

    return wrapper


def _get_point_for_leader(request: HttpRequest, pk: int) -> PickupPoint:
    """The signed-in leader's own point, or 404: another leader's id is never found."""
    point = selectors.point_for_leader(leader=request.leader, pk=pk)
    if point is None:
        raise Http404("no such pickup point")
    return point


def _get_photo_for_leader(request: HttpRequest, pk: int, photo_pk: int) -> PickupPointPhoto:
    photo = (
        PickupPointPhoto.objects.filter(pk=photo_pk, point_id=pk, point__leader=request.leader)
        .select_related("point")
        .first()
    )
    if photo is None:
        raise Http404("no such photo")
    return photo


def _get_pause_for_leader(request: HttpRequest, pk: int, pause_pk: int) -> PickupPointPause:
    pause = (
        PickupPointPause.objects.filter(pk=pause_pk, point_id=pk, point__leader=request.leader)
        .select_related("point")
        .first()
    )
    if pause is None:
        raise Http404("no such pause")
    return pause


# --- leader desk ---------------------------------------------------------------------


@leader_required
def home(request: HttpRequest) -> HttpResponse:
    leader: Leader = request.leader
    share_path = sharing.shop_share_path(leader=leader)
    return render(
        request,
        "leaders/home.html",
        {
            "leader": leader,
            "points": selectors.points_for_leader(leader=leader),
            "customer_count": selectors.customer_count_for_leader(leader=leader),
            "recent_customers": selectors.customers_for_leader(leader=leader)[:5],
            "share_url": sharing.absolute(share_path),
            "share_products": catalog_selectors.on_shelf_products().only("code", "name")[
                :SHARE_PRODUCTS_ON_HOME
            ],
        },
    )


@leader_required
def customers(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:40]
    qs = selectors.customers_for_leader(leader=request.leader, query=query)
    page = Paginator(qs, selectors.CUSTOMERS_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "query": query,
        "customer_count": selectors.customer_count_for_leader(leader=request.leader),
    }
    template = "leaders/_customer_list.html" if request.htmx else "leaders/customers.html"
    return render(request, template, context)


def _point_page(request, point, *, status=200, **forms) -> HttpResponse:
    context = {
        "point": point,
        "settings_form": forms.get("settings_form") or PointSettingsForm(point=point),
        "address_form": forms.get("address_form") or AddressChangeForm(),
        "photo_form": forms.get("photo_form") or PhotoForm(),
        "pause_form": forms.get("pause_form") or PauseForm(),
    }
    return render(request, "leaders/point.html", context, status=status)


@leader_required
def point_new(request: HttpRequest) -> HttpResponse:
    form = NewPointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            point = services.create_pickup_point(
                leader=request.leader,
                community=data["community"],
                name=data["name"],
                address=data["address"],
                opening_hours=data["opening_hours"],
                daily_capacity=data["daily_capacity"],
                latitude=data.get("latitude"),
                longitude=data.get("longitude"),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, _("Pickup point added. Shoppers see it once an operator approves it.")
            )
            return redirect("leaders:point", pk=point.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "leaders/point_new.html", {"form": form}, status=status)


@leader_required
def point_detail(request: HttpRequest, pk: int) -> HttpResponse:
    point = _get_point_for_leader(request, pk)
    if request.method == "POST":
        form = PointSettingsForm(request.POST, point=point)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.update_pickup_point(
                    point=point,
                    name=data["name"],
                    opening_hours=data["opening_hours"],
                    daily_capacity=data["daily_capacity"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Pickup point settings saved."))
                return redirect("leaders:point", pk=point.pk)
        return _point_page(request, point, settings_form=form, status=400)
    return _point_page(request, point)


@leader_required
@require_POST
def point_address(request: HttpRequest, pk: int) -> HttpResponse:
    point = _get_point_for_leader(request, pk)
    form = AddressChangeForm(request.POST)
    if form.is_valid():
        try:
            change = services.request_address_change(
                point=point,
                address=form.cleaned_data["address"],
                latitude=form.cleaned_data.get("latitude"),
                longitude=form.cleaned_data.get("longitude"),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if change is None:
                messages.success(request, _("Address updated."))
            else:
                messages.success(
                    request,
                    _("New address sent for review. Shoppers see it once an operator approves it."),
                )
            return redirect("leaders:point", pk=point.pk)
    return _point_page(request, point, address_form=form, status=400)


@leader_required
@require_POST
def point_photo_add(request: HttpRequest, pk: int) -> HttpResponse:
    point = _get_point_for_leader(request, pk)
    form = PhotoForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.add_point_photo(point=point, image=form.cleaned_data["image"])
        except ValidationError as exc:
            form.add_error("image", exc)
        else:
            messages.success(request, _("Photo added."))
            return redirect("leaders:point", pk=point.pk)
    return _point_page(request, point, photo_form=form, status=400)


@leader_required
@require_POST
def point_photo_delete(request: HttpRequest, pk: int, photo_pk: int) -> HttpResponse:
    photo = _get_photo_for_leader(request, pk, photo_pk)
    services.delete_point_photo(photo=photo)
    messages.success(request, _("Photo removed."))
    return redirect("leaders:point", pk=pk)


@leader_required
@require_POST
def point_pause(request: HttpRequest, pk: int) -> HttpResponse:
    point = _get_point_for_leader(request, pk)
    form = PauseForm(request.POST)
    if form.is_valid():
        try:
            pause = services.pause_pickup_point_for_day(
                point=point, day=form.cleaned_data["day"], reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            form.add_error("day", exc)
        else:
            messages.success(
                request,
                _("No pickups on %(day)s. Shoppers are told and cannot pick up that day.")
                % {"day": pause.day.isoformat()},
            )
            return redirect("leaders:point", pk=point.pk)
    return _point_page(request, point, pause_form=form, status=400)


@leader_required
@require_POST
def point_resume(request: HttpRequest, pk: int, pause_pk: int) -> HttpResponse:
    pause = _get_pause_for_leader(request, pk, pause_pk)
    services.resume_pickup_point_for_day(point=pause.point, day=pause.day)
    messages.success(request, _("Pickups on %(day)s are back on.") % {"day": pause.day.isoformat()})
    return redirect("leaders:point", pk=pk)


# --- share links, QR codes and cards (leader side) ------------------------------------------


def _download(body: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _qr_response(url: str, fmt: str, stem: str) -> HttpResponse:
    if fmt == "svg":
        return _download(sharing.qr_svg(url), "image/svg+xml", f"{stem}.svg")
    return _download(sharing.qr_png(url), "image/png", f"{stem}.png")


@leader_required
@require_GET
def share_qr(request: HttpRequest, fmt: str) -> HttpResponse:
    leader = request.leader
    url = sharing.absolute(sharing.shop_share_path(leader=leader))
    return _qr_response(url, fmt, f"tuangou-{leader.share_code}")


def _product_or_404(ref: str):
    product = catalog_bridge.find_product(ref)
    if product is None:
        raise Http404("no such product")
    return product


@leader_required
@require_GET
def share_product_qr(request: HttpRequest, ref: str, fmt: str) -> HttpResponse:
    leader = request.leader
    product = _product_or_404(ref)
    path = sharing.product_share_path(
        leader=leader, product_ref=catalog_bridge.product_ref(product)
    )
    return _qr_response(sharing.absolute(path), fmt, f"tuangou-{leader.share_code}-{product.pk}")


@leader_required
@require_GET
def share_product_card(request: HttpRequest, ref: str) -> HttpResponse:
    leader = request.leader
    product = _product_or_404(ref)
    point = selectors.primary_point_for_leader(leader=leader)
    if point is None:
        raise Http404("no open pickup point")
    path = sharing.product_share_path(
        leader=leader, product_ref=catalog_bridge.product_ref(product)
    )
    body = sharing.share_card_png(
        title=catalog_bridge.product_title(product),
        price=catalog_bridge.product_price(product),
        point=point,
        url=sharing.absolute(path),
        photo=catalog_bridge.product_photo(product),
    )
    return _download(body, "image/png", f"tuangou-card-{product.pk}.png")


# --- applying ------------------------------------------------------------------------------


@login_required(login_url=SMS_LOGIN_URL_NAME)
def apply(request: HttpRequest) -> HttpResponse:
    if selectors.leader_for_user(user=request.user) is not None:
        return redirect("leaders:home")
    previous = selectors.latest_application_for_user(user=request.user)
    if previous is not None and previous.status == ApplicationStatus.PENDING:
        messages.info(request, _("Your application is already waiting for review."))
        return redirect("leaders:application")
    editing = previous if previous is not None and previous.status == "rejected" else None
    if request.method == "POST":
        form = ApplicationForm(request.POST, request.FILES, previous=editing)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.submit_application(
                    user=request.user,
                    real_name=data["real_name"],
                    phone=data["phone"],
                    community=data["community"],
                    kind=data["kind"],
                    point_name=data["point_name"],
                    address=data["address"],
                    opening_hours=data["opening_hours"],
                    storefront_photo=data.get("storefront_photo")
                    or (editing.storefront_photo if editing else None),
                    latitude=data.get("latitude"),
                    longitude=data.get("longitude"),
                )
            except ValidationError as exc:
                bad_photo = getattr(exc, "code", None) == "bad_image"
                form.add_error("storefront_photo" if bad_photo else None, exc)
            else:
                messages.success(request, _("Application sent. We will review it within two days."))
                return redirect("leaders:application")
        status = 400
    else:
        initial = {"phone": request.user.phone[-11:] if request.user.phone else ""}
        if editing is not None:
            initial = {
                field: getattr(editing, field)
                for field in ("real_name", "kind", "point_name", "address", "latitude", "longitude")
            }
            initial.update(phone=editing.phone[-11:], community=editing.community_id)
        form = ApplicationForm(initial=initial, previous=editing)
        status = 200
    return render(request, "leaders/apply.html", {"form": form, "editing": editing}, status=status)


@login_required(login_url=SMS_LOGIN_URL_NAME)
def application(request: HttpRequest) -> HttpResponse:
    application = selectors.latest_application_for_user(user=request.user)
    if application is None:
        return redirect("leaders:apply")
    return render(request, "leaders/application.html", {"application": application})


APPLICATION_REVIEWER_PERMISSION = "leaders.change_leaderapplication"


def _get_application_photo_for_user(request: HttpRequest, pk: int):
    """The application, if the signed-in user may see its storefront photo: the
    applicant, or staff who review applications. Anyone else gets a 404 that
    never says whether it exists (one query)."""
    user = request.user
    if not user.is_authenticated:
        raise Http404("no such photo")
    application = LeaderApplication.objects.filter(pk=pk).first()
    if application is None or not application.storefront_photo:
        raise Http404("no such photo")
    allowed = application.user_id == user.pk or (
        user.is_staff and user.has_perm(APPLICATION_REVIEWER_PERMISSION)
    )
    if not allowed:
        raise Http404("no such photo")
    return application


@require_GET
def application_photo(request: HttpRequest, pk: int) -> HttpResponse:
    """A leader application's storefront photo (private storage), after the check."""
    application = _get_application_photo_for_user(request, pk)
    name = application.storefront_photo.name
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return serve_private_file(application.storefront_photo, content_type=content_type)


# --- shoppers: choosing a point -------------------------------------------------------


def _coordinate(raw: str | None, limit: int) -> Decimal | None:
    try:
        value = Decimal(raw or "")
    except InvalidOperation:
        return None
    return value if value.is_finite() and -limit <= value <= limit else None


def choose_point(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if not request.user.is_authenticated:
            return _login(request)
        try:
            pk = int(request.POST.get("point", ""))
        except ValueError:
            pk = 0
        point = selectors.visible_point(pk=pk)
        if point is None:
            messages.error(request, _("This pickup point is not available. Please choose another."))
            return redirect("leaders:choose_point")
        try:
            services.choose_pickup_point(user=request.user, pickup_point=point)
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
            return redirect("leaders:choose_point")
        messages.success(request, _("You now pick up at %(point)s.") % {"point": point.name})
        next_url = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            next_url = reverse("catalog:home")
        return redirect(next_url)

    lat = _coordinate(request.GET.get("lat"), 90)
    lng = _coordinate(request.GET.get("lng"), 180)
    if lat is None or lng is None:
        lat = lng = None
    query = request.GET.get("q", "")[:40]
    binding = selectors.binding_for_shopper(user=request.user)
    context = {
        "points": selectors.points_for_choosing(latitude=lat, longitude=lng, query=query),
        "query": query,
        "located": lat is not None,
        "binding": binding,
        "current_needs_change": binding is not None and not binding.pickup_point.is_taking_orders,
    }
    template = "leaders/_point_choices.html" if request.htmx else "leaders/choose_point.html"
    return render(request, template, context)


# --- shoppers: arriving through a share link -------------------------------------------


def _after_share_redirect(product_ref: str | None) -> HttpResponse:
    if product_ref:
        url = catalog_bridge.product_url(product_ref)
        if url:
            return redirect(url)
    try:
        return redirect("catalog:home")
    except NoReverseMatch:  # pragma: no cover - catalog always mounts its home
        return redirect("/")


def _invalid_share(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    status = 404 if isinstance(exc, services.UnknownShareCode) else 410
    return render(
        request, "leaders/share_invalid.html", {"message": _error_text(exc)}, status=status
    )


def _share(request: HttpRequest, share_code: str, product_ref: str | None) -> HttpResponse:
    if not request.user.is_authenticated:
        try:
            point = services.share_point_for_code(share_code)
        except ValidationError as exc:
            return _invalid_share(request, exc)
        login_url = reverse(SMS_LOGIN_URL_NAME)
        return render(
            request,
            "leaders/share_landing.html",
            {"point": point, "login_url": login_url, "next": request.get_full_path()},
        )
    try:
        arrival = services.bind_shopper_from_share(user=request.user, share_code=share_code)
    except ValidationError as exc:
        return _invalid_share(request, exc)
    if arrival.outcome == "asks_to_switch":
        return render(
            request,
            "leaders/share_switch.html",
            {
                "point": arrival.point,
                "current": arrival.binding.pickup_point,
                "share_code": share_code,
                "product_ref": product_ref or "",
            },
        )
    if arrival.outcome == "bound":
        messages.success(
            request, _("You now pick up at %(point)s.") % {"point": arrival.point.name}
        )
    return _after_share_redirect(product_ref)


def share_shop(request: HttpRequest, share_code: str) -> HttpResponse:
    return _share(request, share_code, None)


def share_product(request: HttpRequest, share_code: str, ref: str) -> HttpResponse:
    return _share(request, share_code, ref)


@require_POST
def share_switch(request: HttpRequest, share_code: str) -> HttpResponse:
    if not request.user.is_authenticated:
        return _login(request)
    product_ref = request.POST.get("product", "")[:80] or None
    if request.POST.get("answer") != "switch":
        return _after_share_redirect(product_ref)
    try:
        arrival = services.bind_shopper_from_share(
            user=request.user, share_code=share_code, switch=True
        )
    except services.UnknownShareCode as exc:
        return _invalid_share(request, exc)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return _after_share_redirect(product_ref)
    messages.success(request, _("You now pick up at %(point)s.") % {"point": arrival.point.name})
    return _after_share_redirect(product_ref)
