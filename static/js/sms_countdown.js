// The SMS resend countdown: <button data-resend-wait="42" data-wait-text="{s}秒后重新获取">.
// The server counts the seconds (the per-phone rate limit); without JS the
// button simply posts and an early press gets the rate-limit message.
(function () {
  "use strict";
  function hold(button) {
    var label = button.textContent;
    var template = button.getAttribute("data-wait-text") || "{s}";
    var end = Date.now() + (parseInt(button.getAttribute("data-resend-wait"), 10) || 0) * 1000;
    function tick() {
      var left = Math.ceil((end - Date.now()) / 1000);
      if (left <= 0) {
        button.disabled = false;
        button.textContent = label;
        return;
      }
      button.disabled = true;
      button.textContent = template.replace("{s}", left);
      setTimeout(tick, 250);
    }
    tick();
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button[data-resend-wait]").forEach(hold);
  });
})();
