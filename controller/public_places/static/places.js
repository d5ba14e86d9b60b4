// The public pages of places, made better where a script runs: the live state updated without
// reloading (state.json every 30 s), the "Places near me" button, and the map. Without it,
// the pages are complete: every place with its hours, address and state at the time of loading.
(function () {
  "use strict";

  var POLL_MS = 30000;
  var LIVE = ["hours", "pcs", "wifi", "lockers"];

  function updateLive(data) {
    if (!data || !data.places) return;
    document.querySelectorAll("[data-slug]").forEach(function (item) {
      var place = data.places[item.dataset.slug];
      if (!place) return;
      LIVE.forEach(function (key) {
        var part = item.querySelector('[data-live="' + key + '"]');
        var words = part && part.querySelector("span");
        if (words && place[key] && words.textContent !== place[key]) words.textContent = place[key];
        if (part && key === "hours") {
          part.classList.toggle("open", place.open);
          part.classList.toggle("closed", !place.open);
        }
      });
    });
  }

  function pollLive() {
    var url = document.body.dataset.state;
    if (!url || !window.fetch) return;
    window.setInterval(function () {
      fetch(url, { headers: { Accept: "application/json" }, cache: "no-cache" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(updateLive)
        .catch(function () { /* offline for a while: the next poll tries again */ });
    }, POLL_MS);
  }

  // Rounded to about 100 m: enough to sort places, not enough to find a home.
  function nearMe() {
    var button = document.getElementById("near-me");
    var status = document.getElementById("near-status");
    if (!button || !navigator.geolocation) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      status.textContent = button.dataset.locating;
      navigator.geolocation.getCurrentPosition(
        function (position) {
          var url = new URL(window.location.href);
          url.searchParams.set("lat", position.coords.latitude.toFixed(3));
          url.searchParams.set("lon", position.coords.longitude.toFixed(3));
          url.hash = "list-title";
          window.location.assign(url.toString());
        },
        function (error) {
          status.textContent = error.code === 1 ? button.dataset.refused : button.dataset.unavailable;
        },
        { maximumAge: 300000, timeout: 20000 }
      );
    });
  }

  function escaped(text) {
    var holder = document.createElement("span");
    holder.textContent = text;
    return holder.innerHTML;
  }

  // The map adds to the list, never replaces it: each marker's popup leads to the place's entry.
  function map() {
    var element = document.getElementById("map");
    if (!element || !window.L) return;
    document.getElementById("map-section").hidden = false;
    var L = window.L;
    var places = L.map(element, { zoomControl: false, scrollWheelZoom: false });
    element.setAttribute("role", "region");
    element.setAttribute("aria-label", element.dataset.label);
    L.control.zoom({
      zoomInTitle: element.dataset.zoomIn,
      zoomOutTitle: element.dataset.zoomOut,
    }).addTo(places);
    places.attributionControl.setPrefix(false);
    L.tileLayer(element.dataset.tiles, {
      attribution: escaped(element.dataset.attribution),
      maxZoom: 19,
    }).addTo(places);
    var bounds = [];
    document.querySelectorAll(".place[data-lat]").forEach(function (item) {
      var where = [parseFloat(item.dataset.lat), parseFloat(item.dataset.lon)];
      var link = document.createElement("a");
      link.href = "#" + item.id;
      link.textContent = item.dataset.name;
      L.marker(where, { title: item.dataset.name, alt: item.dataset.name, keyboard: true })
        .bindPopup(link)
        .addTo(places);
      bounds.push(where);
    });
    if (bounds.length) places.fitBounds(bounds, { padding: [24, 24], maxZoom: 16 });
    else places.setView([46.6, 2.4], 5);
  }

  function start() {
    pollLive();
    nearMe();
    map();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
