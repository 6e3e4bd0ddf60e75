// Orders pages: confirm a cancel, keep pay and cancel buttons from double submits,
// start WeChat JSAPI payments.
(function () {
  "use strict";

  // A form with data-confirm asks first (取消并退款); a "no" sends nothing.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("[data-confirm]")) return;
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  // A pay, confirm or cancel button is disabled once tapped (the server is
  // double-tap safe too).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented) return;
    if (!form.matches || !form.matches("[data-pay-form], [data-checkout-form], [data-cancel-refund-form]")) return;
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      setTimeout(function () { button.disabled = true; }, 0);
    });
  });

  // JSAPI: WeixinJSBridge exists only inside WeChat. Opened once automatically;
  // the button opens it again after the shopper closed it.
  var autoStarted = false;
  function autoStart() {
    if (autoStarted) return;
    autoStarted = true;
    startJsapi();
  }
  function startJsapi() {
    var card = document.querySelector("[data-jsapi-pay]");
    var script = document.getElementById("jsapi-params");
    if (!card || !script) return;
    var params = JSON.parse(script.textContent);
    var status = card.querySelector("[data-jsapi-status]");
    if (typeof window.WeixinJSBridge === "undefined") {
      card.querySelector("[data-jsapi-outside]").classList.remove("hidden");
      return;
    }
    window.WeixinJSBridge.invoke("getBrandWCPayRequest", params, function (res) {
      if (res && res.err_msg === "get_brand_wcpay_request:ok") {
        window.location.href = card.dataset.doneUrl;
      } else if (status) {
        status.textContent = card.dataset.cancelText || status.textContent;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var retry = document.querySelector("[data-jsapi-retry]");
    if (retry) retry.addEventListener("click", startJsapi);
    if (!document.querySelector("[data-jsapi-pay]")) return;
    if (typeof window.WeixinJSBridge === "undefined") {
      document.addEventListener("WeixinJSBridgeReady", autoStart, false);
      setTimeout(autoStart, 1500);
    } else {
      autoStart();
    }
  });
  // 模拟支付: POST the signed notification the server rendered into the page,
  // byte for byte with its Wechatpay-* headers, to the real notify endpoint
  // (as WeChat Pay would), then go back to the order.
  document.addEventListener("DOMContentLoaded", function () {
    var card = document.querySelector("[data-sandbox-send]");
    var script = document.getElementById("sandbox-notification");
    if (!card || !script) return;
    var note = JSON.parse(script.textContent);
    var status = card.querySelector("[data-sandbox-status]");
    fetch(note.url, {
      method: "POST",
      headers: note.headers,
      body: note.body,
      credentials: "omit",
      cache: "no-store",
    })
      .then(function () { window.location.replace(note.done); })
      .catch(function () {
        if (status) status.textContent = card.dataset.failedText || status.textContent;
      });
  });
})();
