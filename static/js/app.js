// Small progressive enhancements shared by every page. No dependencies.
(function () {
  "use strict";
  // Countdown: <span data-countdown="2026-11-25T15:00:00Z" data-done-text="..."></span>
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var end = Date.parse(el.getAttribute("data-countdown"));
      var left = Math.max(0, Math.floor((end - now) / 1000));
      if (left === 0 && el.dataset.doneText) { el.textContent = el.dataset.doneText; return; }
      var d = Math.floor(left / 86400), h = Math.floor((left % 86400) / 3600);
      var m = Math.floor((left % 3600) / 60), s = left % 60;
      var clock = pad(h) + ":" + pad(m) + ":" + pad(s);
      // Beyond a day: "5天23:59:09", never "143:59:09" (the format is on <body>).
      el.textContent = d ? (document.body.dataset.countdownDays || "{days}d {clock}")
        .replace("{days}", d).replace("{clock}", clock) : clock;
    });
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); setInterval(tick, 1000); });
  document.addEventListener("htmx:afterSwap", tick);

  // The Content-Security-Policy allows no inline script: what used to be an
  // onchange= or a javascript: link is done here.
  // <select data-autosubmit>: changing it submits its form (as the submit
  // button would: validation, htmx and submit listeners included).
  var AUTOSUBMIT = "[data-autosubmit], [data-coupon-select], [data-use-points]";
  // Where no policy applies, an old inline onchange= has submitted already.
  var justSubmitted = null;
  document.addEventListener("submit", function (event) {
    justSubmitted = event.target;
    setTimeout(function () { justSubmitted = null; }, 0);
  }, true);
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (!el.matches || !el.matches(AUTOSUBMIT) || !el.form || justSubmitted === el.form) { return; }
    if (el.form.requestSubmit) { el.form.requestSubmit(); } else { el.form.submit(); }
  });
  // <a href="/" data-back>: back to the previous page when there is one.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-back]");
    if (!link || window.history.length < 2) { return; }
    event.preventDefault();
    window.history.back();
  });
})();
