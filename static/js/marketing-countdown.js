// 限时秒杀 countdowns: app.js ticks every [data-countdown]; here a session
// whose countdown reaches zero (an upcoming one starts, a running one ends)
// reloads the page, so its 抢购 buttons and sold-out states are the server's
// again. The server rendered the countdown because its moment was still to
// come; if the reloaded page still shows a passed moment (the phone's clock
// runs ahead), it tries again 3 s later, never faster.
// A tap on 抢购 disables the button until the answer comes, so an impatient
// double tap sends one attempt.
(function () {
  "use strict";
  var KEY = "marketing-flash-reloaded-at";
  var loadedAt = Date.now();
  function lastReload() {
    try { return Number(window.sessionStorage.getItem(KEY) || 0); } catch (e) { return 0; }
  }
  function check() {
    var now = Date.now();
    var flips = document.querySelectorAll("[data-flash-flip]");
    for (var i = 0; i < flips.length; i++) {
      var at = Date.parse(flips[i].getAttribute("data-countdown"));
      if (now >= at + 500 && now - loadedAt >= 1000 && now - lastReload() >= 3000) {
        try { window.sessionStorage.setItem(KEY, String(now)); } catch (e) { /* private mode */ }
        window.location.reload();
        return;
      }
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    setInterval(check, 500);
    document.addEventListener("submit", function (event) {
      var button = event.target.querySelector("[data-flash-grab]");
      if (!button) return;
      if (button.getAttribute("data-busy")) { event.preventDefault(); return; }
      button.setAttribute("data-busy", "1");
      button.classList.add("is-disabled");
    });
  });
})();
