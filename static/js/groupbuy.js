// 拼团 share button: the phone's share sheet when there is one, else copy the link.
(function () {
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-share]");
    if (!button) return;
    var input = document.querySelector("[data-share-url]");
    var url = input ? input.value : window.location.href;
    if (navigator.share) {
      navigator.share({ title: button.dataset.title || document.title, url: url }).catch(function () {});
      return;
    }
    var done = function () { button.textContent = button.dataset.copied || "OK"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(url).then(done, function () { input && input.select(); });
    } else if (input) {
      input.select();
      try { document.execCommand("copy"); done(); } catch (e) { /* the link stays selected */ }
    }
  });
})();
