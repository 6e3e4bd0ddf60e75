// Money pages: tap a bar of the 30-day chart to read its day and amount;
// the withdrawal form shows bank fields only for a bank transfer.
(function () {
  "use strict";
  document.querySelectorAll("[data-money-chart]").forEach(function (chart) {
    var detail = chart.parentElement.querySelector("[data-chart-detail]");
    chart.addEventListener("click", function (event) {
      var bar = event.target.closest("g[data-day]");
      if (!bar || !detail) return;
      chart.querySelectorAll("g.is-active").forEach(function (g) { g.classList.remove("is-active"); });
      bar.classList.add("is-active");
      detail.textContent = bar.getAttribute("data-day") + "  ¥" + bar.getAttribute("data-amount");
    });
  });
  document.querySelectorAll("[data-withdraw-form]").forEach(function (form) {
    var method = form.querySelector("select[name=method]");
    if (!method) return;
    function sync() {
      form.querySelectorAll(".bank-only").forEach(function (el) { el.hidden = method.value !== "bank"; });
    }
    method.addEventListener("change", sync);
    sync();
  });
})();
