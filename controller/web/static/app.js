/* borne staff UI: live device status over Socket.IO, relative times, copy buttons.
 *
 * No inline scripts (Content-Security-Policy friendly): pages pass data with data- attributes.
 *   <body data-live="/live" data-sprite="…/sprite.svg">  connect to this Socket.IO namespace
 *   [data-device-id][data-site-id]                       an element showing one device; inside it
 *   [data-field=status|last_seen_at|cpu_percent|memory_percent] are kept up to date; figures
 *   show "—" while the device is not online, [data-shown-when=online|offline] follow its status
 *   [data-site-id] [data-count=online|offline|new]       per-site counts; [data-total=…] totals
 * The server emits "devices": [{id, status, last_seen_at, cpu_percent?, memory_percent?}, …].
 *
 * Commands: forms marked [data-command-form] are sent with fetch (the CSRF token in X-CSRFToken,
 * JSON back); a button with data-confirm asks first in <dialog id="confirm-command">. Rows of
 * #recent-commands ([data-commands-device] or [data-commands-site]) follow the "command" events:
 * {id, name, label, device_id, site_id, state, requested_by, created_at, started_at, output,
 * duration_ms, args}. Without JavaScript the forms post and the server redirects.
 *
 * Words: what this script writes comes from the page, in the reader's language:
 *   <script type="application/json" data-page-words>{"live": "En direct", …}</script>
 * (data, not code: the Content-Security-Policy allows it); every such block of the page is read,
 * and a word no block gives falls back to English below. Sentences keep placeholders,
 * "%(device)s is now %(status)s.", filled by words.fill.
 */
(function () {
  "use strict";

  var body = document.body;
  var sprite = body.getAttribute("data-sprite") || "";

  /* --- words, from the page ------------------------------------------------------------------ */
  var WORDS = {
    status: { online: "Online", offline: "Offline", "new": "New" },
    device_now: "%(device)s is now %(status)s.",
    a_device: "A device",
    never: "never",
    just_now: "just now",
    ago: "%(span)s ago",
    day: "day",
    days: "days",
    live: "Live",
    reconnecting: "Reconnecting…",
    not_connected: "Not connected, retrying…",
    live_unavailable: "Live updates unavailable",
    copied: "Copied",
    command_states: {
      queued: "Queued", sent: "Sent", running: "Running",
      done: "Done", failed: "Failed", expired: "Expired"
    },
    commands: {},  // a command's label by its name; else the event's own label
    command_now: "%(command)s: %(state)s.",
    command_on_now: "%(command)s on %(device)s: %(state)s.",
    nothing_sent: "Nothing was sent. %(error)s",
    sending: "Sending…",
    sent: "Sent.",
    yes: "Yes, %(action)s",
    server_answered: "the server answered %(status)s; reload the page and try again",
    server_refused: "the server refused it",
    unreachable: "the controller could not be reached; check the network and try again.",
    blank: "(blank)",
    wipe_files: "%(count)s files",
    wipe_clean: "Nothing left",
    wipe_left: "%(count)s left",
    wipe_left_locked: "%(count)s left, login locked",
    wipe_finished: "Wipe finished: %(result)s, ready in %(ready)s."
  };
  (function readPageWords() {
    var blocks = document.querySelectorAll("script[type=\"application/json\"][data-page-words]");
    for (var i = 0; i < blocks.length; i++) {
      var given;
      try { given = JSON.parse(blocks[i].textContent); } catch (e) { continue; }
      for (var key in given) {
        if (!Object.prototype.hasOwnProperty.call(given, key)) { continue; }
        var value = given[key];
        if (value && typeof value === "object" && !Array.isArray(value) &&
            WORDS[key] && typeof WORDS[key] === "object") {
          for (var inner in value) {
            if (Object.prototype.hasOwnProperty.call(value, inner)) { WORDS[key][inner] = value[inner]; }
          }
        } else {
          WORDS[key] = value;
        }
      }
    }
  })();

  // A count's words: {one, other} forms picked by the page's language, or one sentence.
  function counted(word, n) {
    if (word && typeof word === "object") {
      var form = new Intl.PluralRules(document.documentElement.lang || "en").select(n);
      return form === "one" && word.one ? word.one : word.other;
    }
    return word;
  }

  // "%(device)s is now %(status)s." with {device: "pc-1", status: "online"}.
  function fill(sentence, values) {
    return String(sentence).replace(/%\((\w+)\)[sd]/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  var STATUS_ICONS = { online: "circle-check", offline: "circle-x", "new": "circle-dashed" };

  /* --- relative times, the same words as the server writes them ---------------------------- */
  function span(seconds) {
    var units = [["day", 86400], ["h", 3600], ["min", 60]];
    for (var i = 0; i < units.length; i++) {
      if (seconds >= units[i][1]) {
        var n = Math.floor(seconds / units[i][1]);
        var unit = units[i][0] === "day" ? (n > 1 ? WORDS.days : WORDS.day) : units[i][0];
        return n + " " + unit;
      }
    }
    return Math.floor(seconds) + " s";
  }

  function ago(iso) {
    if (!iso) { return WORDS.never; }
    var seconds = (Date.now() - Date.parse(iso)) / 1000;
    if (seconds < 10) { return WORDS.just_now; }  // includes a slightly fast server clock
    return fill(WORDS.ago, { span: span(seconds) });
  }

  function refreshTimes() {
    var times = document.querySelectorAll(
      "time[data-field=last_seen_at][datetime], time[data-ago][datetime]");
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
    var icon = STATUS_ICONS[status];
    if (!icon || badge.getAttribute("data-status") === status) { return false; }
    badge.setAttribute("data-status", status);
    badge.className = "status status-" + status + " changed";
    badge.addEventListener("animationend", function () { badge.classList.remove("changed"); },
      { once: true });
    var use = badge.querySelector("use");
    if (use) { use.setAttribute("href", sprite + "#" + icon); }
    var text = badge.querySelector(".status-text");
    if (text) { text.textContent = WORDS.status[status] || status; }
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
          announce(fill(WORDS.device_now, {
            device: name ? name.textContent : WORDS.a_device,
            status: String(WORDS.status[update.status] || update.status).toLowerCase()
          }));
        }
      }
      var seen = holder.querySelector("[data-field=last_seen_at]");
      if (seen && update.last_seen_at) {
        seen.setAttribute("datetime", update.last_seen_at);
        seen.setAttribute("title", update.last_seen_at.replace("T", " ").slice(0, 16) + " UTC");
        seen.textContent = ago(update.last_seen_at);
      }
      // An offline device's last figures are not its load now: "—" until it is back. Flags
      // other domains raised (.status-concern: a locked login, an open alert) are left alone.
      var live = (badge ? badge.getAttribute("data-status") : update.status) === "online";
      ["cpu_percent", "memory_percent"].forEach(function (field) {
        var cell = holder.querySelector("[data-field=" + field + "]");
        if (!cell) { return; }
        if (!live) {
          cell.textContent = "—";
        } else if (Object.prototype.hasOwnProperty.call(update, field)) {
          cell.textContent = percent(update[field]);
        }
      });
      var shown = holder.querySelectorAll("[data-shown-when]");
      for (var k = 0; k < shown.length; k++) {
        shown[k].hidden = (shown[k].getAttribute("data-shown-when") === "online") !== live;
      }
    }
  }

  /* --- commands: their rows in "Recent commands" --------------------------------------------- */
  // The same pictograms as commands/web.COMMAND_STATES; the words are the page's.
  var COMMAND_STATES = {
    queued: { icon: "hourglass", rank: 0 },
    sent: { icon: "send", rank: 1 },
    running: { icon: "loader", rank: 2 },
    done: { icon: "circle-check", rank: 3 },
    failed: { icon: "circle-x", rank: 3 },
    expired: { icon: "clock", rank: 3 }
  };
  function stateWord(state) { return WORDS.command_states[state] || state; }
  function commandLabel(command) { return WORDS.commands[command.name] || command.label; }
  var commandTable = document.getElementById("recent-commands");
  var commandIcons = {};
  if (commandTable) {
    try { commandIcons = JSON.parse(commandTable.getAttribute("data-command-icons") || "{}"); }
    catch (e) { commandIcons = {}; }
  }

  function shownState(command) {
    return command.state === "sent" && command.started_at ? "running" : command.state;
  }

  function milliseconds(value) {
    if (value === null || value === undefined) { return "—"; }
    if (value < 1000) { return value + " ms"; }
    if (value < 60000) { return (value / 1000).toFixed(1) + " s"; }
    return span(value / 1000);
  }

  function concerns(command) {
    if (!commandTable) { return false; }
    var device = commandTable.getAttribute("data-commands-device");
    var site = commandTable.getAttribute("data-commands-site");
    if (device) { return command.device_id === device; }
    return site !== null && String(command.site_id) === site;
  }

  function deviceName(id) {
    var link = document.querySelector("tr[data-device-id=\"" + CSS.escape(id) + "\"] th a");
    return link ? link.textContent : id.slice(0, 8);
  }

  // How a command ended in one line (commands/outcomes.py words it the same way), in the
  // page's words; times in the city's zone.
  function outcomeLine(outcome) {
    if (!outcome || !outcome.kind) { return ""; }
    var words = WORDS.outcomes || {};
    if (outcome.kind === "reset") {
      return outcome.ready_ms === null || outcome.ready_ms === undefined
        ? words.reset_ready || "" : fill(words.reset || "", { ms: outcome.ready_ms });
    }
    if (outcome.kind === "extended") {
      if (!outcome.ends_at) { return words.extended_plain || ""; }
      var time = new Date(outcome.ends_at).toLocaleTimeString(document.documentElement.lang || "en",
        { hour: "2-digit", minute: "2-digit", timeZone: WORDS.time_zone || undefined });
      return fill(words.extended || "", { time: time });
    }
    if (outcome.kind === "failed") {
      return fill(words.failed || "", { reason: outcome.reason || words.no_reason || "" });
    }
    return words[outcome.kind] || words.done || "";
  }

  function setOutput(cell, output, outcome) {
    cell.textContent = "";
    var line = outcomeLine(outcome);
    if (line) {
      var shown = document.createElement("span");
      shown.className = "cmd-outcome";
      shown.setAttribute("data-cmd", "outcome");
      shown.textContent = line;
      cell.appendChild(shown);
    }
    if (!output) { if (!line) { cell.textContent = "—"; } return; }
    var details = document.createElement("details");
    details.className = "cmd-raw";
    var summary = document.createElement("summary");
    var first = output.trim().split("\n")[0] || WORDS.blank;
    summary.textContent = first.slice(0, 60);
    var pre = document.createElement("pre");
    pre.textContent = output;
    details.appendChild(summary);
    details.appendChild(pre);
    cell.appendChild(details);
  }

  function fillCommandRow(row, command) {
    var state = shownState(command);
    var known = COMMAND_STATES[state];
    if (!known) { return false; }
    var before = row.getAttribute("data-state");
    if (before && COMMAND_STATES[before] && COMMAND_STATES[before].rank > known.rank) {
      return false;  // an older event arriving late never takes a row back
    }
    row.setAttribute("data-command-id", command.id);
    row.setAttribute("data-state", state);
    var label = row.querySelector("[data-cmd=label]");
    if (label && commandLabel(command)) { label.textContent = commandLabel(command); }
    var pictogram = row.querySelector(".cmd-name use");
    if (pictogram && commandIcons[command.name]) {
      pictogram.setAttribute("href", sprite + "#" + commandIcons[command.name]);
    }
    var args = row.querySelector("[data-cmd=args]");
    if (args) { args.textContent = command.args && command.args.text ? "“" + command.args.text + "”" : ""; }
    var device = row.querySelector("[data-cmd=device] a");
    if (device && !device.textContent) {
      device.textContent = deviceName(command.device_id);
      device.setAttribute("href",
        commandTable.getAttribute("data-device-url").replace("DEVICE", command.device_id));
    }
    var who = row.querySelector("[data-cmd=requested_by]");
    if (who) { who.textContent = command.requested_by; }
    var when = row.querySelector("[data-cmd=created_at]");
    if (when && command.created_at) {
      when.setAttribute("datetime", command.created_at);
      when.setAttribute("title", command.created_at.replace("T", " ").slice(0, 16) + " UTC");
      when.textContent = ago(command.created_at);
    }
    var badge = row.querySelector("[data-cmd=state]");
    if (badge) {
      badge.className = "cmd-state cmd-state-" + state;
      badge.setAttribute("data-state", state);
      var use = badge.querySelector("use");
      if (use) { use.setAttribute("href", sprite + "#" + known.icon); }
      badge.querySelector(".cmd-state-text").textContent = stateWord(state);
    }
    var took = row.querySelector("[data-cmd=duration]");
    if (took) { took.textContent = milliseconds(command.duration_ms); }
    var output = row.querySelector("[data-cmd=output]");
    if (output) { setOutput(output, command.output, command.outcome); }
    showOnPcCard(command);
    return before !== state;
  }

  function applyCommand(command) {
    if (!command || typeof command.id !== "string" || !concerns(command)) { return; }
    var row = commandTable.querySelector("tr[data-command-id=\"" + CSS.escape(command.id) + "\"]");
    var isNew = !row;
    if (isNew) {
      var template = document.getElementById("command-row-template");
      if (!template) { return; }
      row = template.content.firstElementChild.cloneNode(true);
      var tbody = commandTable.tBodies[0];
      tbody.insertBefore(row, tbody.firstChild);
      var wrap = document.querySelector("[data-commands-wrap]");
      var empty = document.querySelector("[data-commands-empty]");
      if (wrap) { wrap.hidden = false; }
      if (empty) { empty.hidden = true; }
    }
    var changed = fillCommandRow(row, command);
    if (changed && !isNew && COMMAND_STATES[shownState(command)].rank === 3) {
      var values = {
        command: commandLabel(command),
        device: deviceName(command.device_id),
        state: stateWord(shownState(command)).toLowerCase()
      };
      announce(fill(commandTable.hasAttribute("data-commands-site")
        ? WORDS.command_on_now : WORDS.command_now, values));
    }
  }

  /* --- commands: sending them ----------------------------------------------------------------- */
  var dialog = document.getElementById("confirm-command");

  // One question at a time: the answer goes to the latest one. The "close" event is dispatched
  // later than the dialog closes, so the close of a question dismissed with Escape can arrive
  // after the next question opened; it is ignored while the dialog is open.
  var pendingAnswer = null;
  if (dialog) {
    dialog.addEventListener("close", function () {
      if (dialog.open) { return; }
      var then = pendingAnswer;
      pendingAnswer = null;
      if (then && dialog.returnValue === "confirm") { then(); }
    });
  }

  function ask(question, yesLabel, then) {
    if (!dialog || typeof dialog.showModal !== "function") {
      if (window.confirm(question)) { then(); }
      return;
    }
    dialog.querySelector("#confirm-command-text").textContent = question;
    dialog.querySelector(".confirm-yes").textContent = yesLabel;
    dialog.returnValue = "";
    pendingAnswer = then;
    dialog.showModal();
  }

  function showCommandError(section, message) {
    var holder = section.querySelector("[data-command-error]");
    if (!holder) { return; }
    holder.textContent = "";
    if (!message) { return; }
    var box = document.createElement("div");
    box.className = "notice notice-error";
    box.setAttribute("role", "alert");
    var text = document.createElement("p");
    text.textContent = fill(WORDS.nothing_sent, { error: message });
    box.appendChild(text);
    holder.appendChild(box);
  }

  function sendCommand(form, submitter) {
    var section = form.closest(".commands") || document;
    var feedback = section.querySelector("[data-command-feedback]");
    var data = new FormData(form, submitter);
    data.set("confirmed", "yes");  // asked already when the command needed it
    var token = form.querySelector("input[name=csrf_token]");
    submitter.disabled = true;
    submitter.setAttribute("aria-busy", "true");
    if (feedback) { feedback.textContent = WORDS.sending; }
    showCommandError(section, "");
    fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": token ? token.value : "" }
    }).then(function (response) {
      return response.json().catch(function () {
        return { message: fill(WORDS.server_answered, { status: response.status }) };
      }).then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (answer) {
      if (!answer.ok) {
        if (feedback) { feedback.textContent = ""; }
        showCommandError(section, answer.body.message || WORDS.server_refused);
        return;
      }
      (answer.body.commands || []).forEach(applyCommand);
      if (feedback) { feedback.textContent = answer.body.message || WORDS.sent; }
      if (submitter.value === "show_message") {
        var text = form.querySelector("[name=text]");
        if (text) { text.value = ""; }
      }
    }).catch(function () {
      if (feedback) { feedback.textContent = ""; }
      showCommandError(section, WORDS.unreachable);
    }).then(function () {
      submitter.disabled = false;
      submitter.removeAttribute("aria-busy");
    });
  }

  /* --- privacy wipes (device page of a public PC) ---------------------------------------------- */
  var wipeTable = document.getElementById("wipe-reports");

  function cell(tag, text, className) {
    var element = document.createElement(tag);
    element.textContent = text;
    if (className) { element.className = className; }
    return element;
  }

  // The site page's card of a public PC (public_pcs/_desk_panel.html): how its last command
  // ended, and its latest wipe.
  function pcCard(deviceId) {
    return deviceId ? document.querySelector("[data-pc-card][data-device-id=\"" + CSS.escape(deviceId) + "\"]") : null;
  }

  function showOnPcCard(command) {
    var card = pcCard(command.device_id);
    var line = outcomeLine(command.outcome);
    var place = card && card.querySelector("[data-pc-outcome]");
    if (place && line) { place.textContent = line; }
    var ends = card && card.querySelector("[data-pc-ends]");
    if (ends && command.outcome && command.outcome.kind === "extended" && line) { ends.textContent = line; }
  }

  function applyWipe(wipe) {
    var card = pcCard(wipe.device_id);
    var onCard = card && card.querySelector("[data-pc-wipe]");
    if (onCard) {
      var found = wipe.clean ? WORDS.wipe_clean
        : fill(counted(wipe.login_locked ? WORDS.wipe_left_locked : WORDS.wipe_left,
          wipe.leftovers_total), { count: wipe.leftovers_total });
      onCard.textContent = fill(WORDS.wipe_finished,
        { result: found.toLowerCase(), ready: milliseconds(wipe.ready_ms) });
    }
    if (!wipeTable || wipe.device_id !== wipeTable.getAttribute("data-device-id")) { return; }
    var row = document.createElement("tr");
    var when = cell("th", WORDS.just_now);
    when.setAttribute("scope", "row");
    row.appendChild(when);
    row.appendChild(cell("td", milliseconds(wipe.ready_ms), "num"));
    row.appendChild(cell("td", milliseconds(wipe.wipe_ms), "num"));
    row.appendChild(cell("td",
      fill(counted(WORDS.wipe_files, wipe.removed_files), { count: wipe.removed_files }), "num"));
    var result = wipe.clean ? WORDS.wipe_clean
      : fill(counted(wipe.login_locked ? WORDS.wipe_left_locked : WORDS.wipe_left,
        wipe.leftovers_total), { count: wipe.leftovers_total });
    row.appendChild(cell("td", result, wipe.clean ? "wipe-clean" : "wipe-left"));
    var tbody = wipeTable.querySelector("tbody");
    tbody.insertBefore(row, tbody.firstChild);
    document.querySelector("[data-wipes-wrap]").hidden = false;
    document.querySelector("[data-wipes-empty]").hidden = true;
    var live = document.querySelector("[data-wipe-live]");
    if (live) {
      live.textContent = fill(WORDS.wipe_finished,
        { result: result.toLowerCase(), ready: milliseconds(wipe.ready_ms) });
    }
  }

  var commandForms = document.querySelectorAll("form[data-command-form]");
  for (var f = 0; f < commandForms.length; f++) {
    commandForms[f].addEventListener("submit", function (event) {
      var form = event.currentTarget;
      var submitter = event.submitter;
      if (!submitter || !window.fetch || typeof FormData !== "function") { return; }  // plain post
      event.preventDefault();
      if (!form.checkValidity()) { form.reportValidity(); return; }
      var question = submitter.getAttribute("data-confirm");
      if (question) {
        var label = submitter.querySelector("span").textContent.replace(/…$/, "");
        ask(question, fill(WORDS.yes, { action: label.charAt(0).toLowerCase() + label.slice(1) }), function () {
          sendCommand(form, submitter);
          submitter.focus();
        });
      } else {
        sendCommand(form, submitter);
      }
    });
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
      showConnection("lost", WORDS.live_unavailable);
    } else {
      var socket = window.io(namespace, { reconnectionDelayMax: 10000 });
      socket.on("connect", function () { showConnection("live", WORDS.live); });
      socket.on("disconnect", function () { showConnection("lost", WORDS.reconnecting); });
      socket.on("connect_error", function () { showConnection("lost", WORDS.not_connected); });
      socket.on("devices", function (devices) {
        if (!Array.isArray(devices)) { return; }
        devices.forEach(applyDevice);
      });
      socket.on("command", applyCommand);
      socket.on("wipe", applyWipe);
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
          button.textContent = WORDS.copied;
        });
      });
    })(copyButtons[j]);
  }
})();
