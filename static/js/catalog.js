// Product page: the SKU picker updates price, market price, stock left and the
// quantity limit. Server-rendered values stay correct without JavaScript.
(function () {
  "use strict";
  function update(form) {
    var picked = form.querySelector('input[name="sku"]:checked');
    if (!picked) { return; }
    var page = document.querySelector(".product-detail");
    var price = page.querySelector("[data-sku-price]");
    var market = page.querySelector("[data-sku-market]");
    var left = form.querySelector("[data-sku-left]");
    var qty = form.querySelector('input[name="quantity"]');
    if (price) { price.textContent = picked.dataset.price; }
    if (market) { market.textContent = picked.dataset.market ? "¥" + picked.dataset.market : ""; }
    if (left) { left.textContent = picked.dataset.remaining; }
    if (qty) {
      var max = parseInt(picked.dataset.remaining, 10) || 1;
      var limit = parseInt(picked.dataset.limit, 10);
      if (limit && limit < max) { max = limit; }
      qty.max = String(max);
      if (parseInt(qty.value, 10) > max) { qty.value = String(max); }
    }
  }
  document.addEventListener("change", function (event) {
    if (event.target.name === "sku" && event.target.form) { update(event.target.form); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".buy-form").forEach(update);
  });
})();
