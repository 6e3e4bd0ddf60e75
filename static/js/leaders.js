// Leaders pages: the browser's location (no map service), copying hours and links.
(function () {
  "use strict";

  function locate(onDone, onFail) {
    if (!navigator.geolocation) { onFail(); return; }
    navigator.geolocation.getCurrentPosition(
      function (pos) { onDone(pos.coords.latitude.toFixed(6), pos.coords.longitude.toFixed(6)); },
      onFail,
      { enableHighAccuracy: false, timeout: 8000, maximumAge: 600000 }
    );
  }

  document.addEventListener("click", function (event) {
    var target = event.target;

    var locateButton = target.closest("[data-locate-button]");
    if (locateButton) {
      var box = locateButton.closest("[data-locate]");
      var status = box.querySelector("[data-locate-status]");
      status.textContent = "…";
      locate(function (lat, lng) {
        box.querySelector("input[name=latitude]").value = lat;
        box.querySelector("input[name=longitude]").value = lng;
        status.textContent = "✓ " + lat + ", " + lng;
      }, function () { status.textContent = "✕"; });
      return;
    }

    var nearby = target.closest("[data-nearby]");
    if (nearby) {
      var form = document.querySelector("[data-choose-form]");
      var note = document.querySelector("[data-nearby-status]");
      if (note) { note.textContent = "…"; }
      locate(function (lat, lng) {
        form.querySelector("input[name=lat]").value = lat;
        form.querySelector("input[name=lng]").value = lng;
        form.querySelector("input[name=q]").value = "";
        form.submit();
      }, function () { if (note) { note.textContent = "✕"; } });
      return;
    }

    var copyHours = target.closest("[data-copy-hours]");
    if (copyHours) {
      var rows = copyHours.closest("[data-hours]").querySelectorAll(".hours-row");
      var first = rows[0].querySelectorAll("input[type=time]");
      rows.forEach(function (row) {
        var inputs = row.querySelectorAll("input[type=time]");
        inputs[0].value = first[0].value;
        inputs[1].value = first[1].value;
      });
      return;
    }

    var copy = target.closest("[data-copy-target]");
    if (copy) {
      var input = document.querySelector(copy.getAttribute("data-copy-target"));
      input.select();
      if (navigator.clipboard) { navigator.clipboard.writeText(input.value); }
      else { document.execCommand("copy"); }
    }
  });
})();
