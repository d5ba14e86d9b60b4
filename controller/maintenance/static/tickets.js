/* borne staff UI: the tickets' pages follow their tickets live (controller/maintenance/tickets_web.py).
 *
 * No inline script (Content-Security-Policy friendly): the page says what to follow.
 *   [data-tickets-live="/live"]         connect to this Socket.IO namespace; with
 *     data-ticket-id="12"               follow that ticket only (its page), or
 *     data-site-id="3"                  the tickets of that site only (a filtered list)
 *   [data-live-part][id]                the parts of the page swapped for fresh ones
 *   #live-indicator                     says whether the page is live
 *   <script type="application/json" data-ticket-words>{"live": "En direct", …}</script>
 * The server emits "ticket": {id, site_id, event} to the browsers of the ticket's site once a
 * change is committed. The page is fetched again and each live part replaced by its fresh copy;
 * what is outside them (the comment being written) never moves. Changes arriving while a fetch
 * runs make one more fetch, not one each.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-tickets-live]");
  if (!root) { return; }

  var WORDS = {
    live: "Live",
    reconnecting: "Reconnecting…",
    not_connected: "Not connected, retrying…",
    live_unavailable: "Live updates unavailable",
    updated: "Updated: the page shows the latest changes."
  };
  var given = document.querySelector("script[type=\"application/json\"][data-ticket-words]");
  if (given) {
    try {
      var read = JSON.parse(given.textContent);
      for (var key in read) {
        if (Object.prototype.hasOwnProperty.call(read, key)) { WORDS[key] = read[key]; }
      }
    } catch (e) { /* the English words stay */ }
  }

  var ticketId = root.getAttribute("data-ticket-id");
  var siteId = root.getAttribute("data-site-id");

  function showConnection(state, text) {
    var indicator = document.getElementById("live-indicator");
    if (!indicator) { return; }
    indicator.setAttribute("data-state", state);
    indicator.querySelector(".live-text").textContent = text;
  }

  var announcer = null;
  function announce(message) {
    if (!announcer) {
      announcer = document.createElement("div");
      announcer.className = "visually-hidden";
      announcer.setAttribute("aria-live", "polite");
      document.body.appendChild(announcer);
    }
    announcer.textContent = message;
  }

  var fetching = false;
  var again = false;
  function refresh() {
    if (fetching) { again = true; return; }
    fetching = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var parts = document.querySelectorAll("[data-live-part][id]");
        for (var i = 0; i < parts.length; i++) {
          var copy = fresh.getElementById(parts[i].id);
          if (copy) { parts[i].replaceWith(document.importNode(copy, true)); }
        }
        announce(WORDS.updated);
      })
      .catch(function () { /* the next change or a reload brings the page up to date */ })
      .then(function () {
        fetching = false;
        if (again) { again = false; refresh(); }
      });
  }

  function concerns(change) {
    if (!change || typeof change.id !== "number") { return false; }
    if (ticketId) { return String(change.id) === ticketId; }
    return !siteId || String(change.site_id) === siteId;
  }

  if (typeof window.io !== "function" || !window.fetch || typeof DOMParser !== "function") {
    showConnection("lost", WORDS.live_unavailable);
    return;
  }
  var socket = window.io(root.getAttribute("data-tickets-live"), { reconnectionDelayMax: 10000 });
  var connectedBefore = false;
  socket.on("connect", function () {
    showConnection("live", WORDS.live);
    if (connectedBefore) { refresh(); }  // what changed while the connection was down
    connectedBefore = true;
  });
  socket.on("disconnect", function () { showConnection("lost", WORDS.reconnecting); });
  socket.on("connect_error", function () { showConnection("lost", WORDS.not_connected); });
  socket.on("ticket", function (change) { if (concerns(change)) { refresh(); } });
})();
