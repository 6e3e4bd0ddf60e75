// 限时秒杀 countdowns: app.js ticks every [data-countdown]; here a session
// whose countdown reaches zero (an upcoming one starts, a running one ends)
// reloads the page once, so its 抢购 buttons and sold-out states are the
// server's again. A tap on 抢购 disables the button until the answer comes,
// so an impatient double tap sends one attempt.
(function () {
  "use strict";
  var reloaded = false;
  function check() {
    if (reloaded) return;
    var now = Date.now();
    var flips = document.querySelectorAll("[data-flash-flip]");
    for (var i = 0; i < flips.length; i++) {
      var at = Date.parse(flips[i].getAttribute("data-countdown"));
      var loaded = Number(flips[i].getAttribute("data-loaded-at") || 0);
      if (!loaded) { flips[i].setAttribute("data-loaded-at", String(now)); loaded = now; }
      // Only a countdown that was still running when the page loaded flips it.
      if (at > loaded && now >= at + 500) {
        reloaded = true;
        window.location.reload();
        return;
      }
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    check();
    setInterval(check, 1000);
    document.addEventListener("submit", function (event) {
      var button = event.target.querySelector("[data-flash-grab]");
      if (!button) return;
      if (button.getAttribute("data-busy")) { event.preventDefault(); return; }
      button.setAttribute("data-busy", "1");
      button.classList.add("is-disabled");
    });
  });
})();
