/* borne staff UI: live device status over Socket.IO, relative times, copy buttons.
 *
 * No inline scripts (Content-Security-Policy friendly): pages pass data with data- attributes.
 *   <body data-live="/live" data-sprite="…/sprite.svg">  connect to this Socket.IO namespace
 *   [data-device-id][data-site-id]                       an element showing one device; inside it
 *   [data-field=status|last_seen_at|cpu_percent|memory_percent] are kept up to date
 *   [data-site-id] [data-count=online|offline|new]       per-site counts; [data-total=…] totals
 * The server emits "devices": [{id, status, last_seen_at, cpu_percent?, memory_percent?}, …].
 */
(function () {
  "use strict";

  var body = document.body;
  var sprite = body.getAttribute("data-sprite") || "";
  var STATUS = {
    online: { label: "Online", icon: "circle-check" },
    offline: { label: "Offline", icon: "circle-x" },
    "new": { label: "New", icon: "circle-dashed" }
  };

  /* --- relative times, the same words as the server writes them ---------------------------- */
  function span(seconds) {
    var units = [["day", 86400], ["h", 3600], ["min", 60]];
    for (var i = 0; i < units.length; i++) {
      if (seconds >= units[i][1]) {
        var n = Math.floor(seconds / units[i][1]);
        return n + " " + units[i][0] + (units[i][0] === "day" && n > 1 ? "s" : "");
      }
    }
    return Math.floor(seconds) + " s";
  }

  function ago(iso) {
    if (!iso) { return "never"; }
    var seconds = (Date.now() - Date.parse(iso)) / 1000;
    if (seconds < 10) { return "just now"; }  // includes a slightly fast server clock
    return span(seconds) + " ago";
  }

  function refreshTimes() {
    var times = document.querySelectorAll("time[data-field=last_seen_at][datetime]");
    for (var i = 0; i < times.length; i++) {
      times[i].textContent = ago(times[i].getAttribute("datetime"));
    }
  }
  refreshTimes();
  window.setInterval(refreshTimes, 15000);

  /* --- applying a device update ------------------------------------------------------------- */
  function percent(value) {
    return value === null || value === undefined ? "—" : Math.round(value) + " %";
  }

  function setStatus(badge, status) {
    var known = STATUS[status];
    if (!known || badge.getAttribute("data-status") === status) { return false; }
    badge.setAttribute("data-status", status);
    badge.className = "status status-" + status + " changed";
    badge.addEventListener("animationend", function () { badge.classList.remove("changed"); },
      { once: true });
    var use = badge.querySelector("use");
    if (use) { use.setAttribute("href", sprite + "#" + known.icon); }
    var text = badge.querySelector(".status-text");
    if (text) { text.textContent = known.label; }
    return true;
  }

  function bump(scope, selector, by) {
    var counters = scope.querySelectorAll(selector);
    for (var i = 0; i < counters.length; i++) {
      var n = Math.max(0, (parseInt(counters[i].textContent, 10) || 0) + by);
      counters[i].textContent = String(n);
      var pill = counters[i].closest(".count");
      if (pill) { pill.classList.toggle("zero", n === 0); }
    }
  }

  function recount(siteId, before, after) {
    var cards = document.querySelectorAll(".site-card[data-site-id=\"" + siteId + "\"]");
    for (var i = 0; i < cards.length; i++) {
      bump(cards[i], "[data-count=\"" + before + "\"]", -1);
      bump(cards[i], "[data-count=\"" + after + "\"]", 1);
    }
    bump(document, "[data-total=\"" + before + "\"]", -1);
    bump(document, "[data-total=\"" + after + "\"]", 1);
  }

  var announcer = null;
  function announce(message) {
    if (!announcer) {
      announcer = document.createElement("div");
      announcer.className = "visually-hidden";
      announcer.setAttribute("aria-live", "polite");
      body.appendChild(announcer);
    }
    announcer.textContent = message;
  }

  function applyDevice(update) {
    if (!update || typeof update.id !== "string") { return; }
    var holders = document.querySelectorAll("[data-device-id=\"" + CSS.escape(update.id) + "\"]");
    if (holders.length === 0) {
      var notice = document.getElementById("new-devices");
      if (notice && body.hasAttribute("data-all-devices")) { notice.hidden = false; }
      return;
    }
    for (var i = 0; i < holders.length; i++) {
      var holder = holders[i];
      var badge = holder.querySelector("[data-field=status]");
      if (badge && update.status) {
        var before = badge.getAttribute("data-status");
        if (setStatus(badge, update.status)) {
          if (holder.tagName === "TR") { recount(holder.getAttribute("data-site-id"), before, update.status); }
          var name = holder.querySelector("th a");
          announce((name ? name.textContent : "A device") + " is now " + STATUS[update.status].label.toLowerCase() + ".");
        }
      }
      var seen = holder.querySelector("[data-field=last_seen_at]");
      if (seen && update.last_seen_at) {
        seen.setAttribute("datetime", update.last_seen_at);
        seen.setAttribute("title", update.last_seen_at.replace("T", " ").slice(0, 16) + " UTC");
        seen.textContent = ago(update.last_seen_at);
      }
      ["cpu_percent", "memory_percent"].forEach(function (field) {
        var cell = holder.querySelector("[data-field=" + field + "]");
        if (cell && Object.prototype.hasOwnProperty.call(update, field)) {
          cell.textContent = percent(update[field]);
        }
      });
    }
  }

  /* --- the connection ------------------------------------------------------------------------ */
  function showConnection(state, text) {
    var indicator = document.getElementById("live-indicator");
    if (!indicator) { return; }
    indicator.setAttribute("data-state", state);
    indicator.querySelector(".live-text").textContent = text;
  }

  var namespace = body.getAttribute("data-live");
  if (namespace) {
    if (typeof window.io !== "function") {
      showConnection("lost", "Live updates unavailable");
    } else {
      var socket = window.io(namespace, { reconnectionDelayMax: 10000 });
      socket.on("connect", function () { showConnection("live", "Live"); });
      socket.on("disconnect", function () { showConnection("lost", "Reconnecting…"); });
      socket.on("connect_error", function () { showConnection("lost", "Not connected, retrying…"); });
      socket.on("devices", function (devices) {
        if (!Array.isArray(devices)) { return; }
        devices.forEach(applyDevice);
      });
    }
  }

  /* --- copy buttons (only where the browser allows the clipboard) ---------------------------- */
  var copyButtons = document.querySelectorAll("[data-copy]");
  for (var j = 0; j < copyButtons.length; j++) {
    (function (button) {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (!source || !navigator.clipboard) { return; }
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(source.textContent).then(function () {
          button.textContent = "Copied";
        });
      });
    })(copyButtons[j]);
  }
})();
