// The dashboard's only script: keeps the page's main part up to date without a reload.
// /events sends the main part again (event "page") whenever it changed; the browser reconnects
// by itself when the connection drops. Without this script the page reloads every 10 seconds.
"use strict";
(function () {
  var events = document.body.getAttribute("data-events");
  var main = document.getElementById("live");
  var state = document.getElementById("live-state");
  if (!events || !main || !window.EventSource) {
    return;
  }
  var source = new EventSource(events);
  source.addEventListener("page", function (event) {
    // The server drew it from a template that escapes every value.
    main.innerHTML = event.data;
    document.body.setAttribute("data-updates", String(Number(document.body.getAttribute("data-updates") || 0) + 1));
  });
  source.addEventListener("open", function () {
    if (state) { state.textContent = "live"; }
  });
  source.addEventListener("error", function () {
    if (state) { state.textContent = "reconnecting"; }
  });
})();
