// Pforte's login page, second step: asks the server whether the member has
// decided in the app, and goes on by itself once they have. Without this
// script the member presses "Weiter"; nothing else depends on it.
(function () {
  "use strict";
  var form = document.getElementById("approval");
  if (!form || !window.fetch) {
    return;
  }
  var url = form.getAttribute("data-status");
  var waiting = document.getElementById("waiting");
  if (waiting) {
    waiting.hidden = false;
  }
  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 503) {
          return { status: "pending" };
        }
        return r.json();
      })
      .then(function (s) {
        if (s.status === "pending") {
          window.setTimeout(poll, 2000);
          return;
        }
        // Decided, expired or unknown: the server says what happens next.
        form.submit();
      })
      .catch(function () {
        window.setTimeout(poll, 5000);
      });
  }
  window.setTimeout(poll, 1000);
})();
