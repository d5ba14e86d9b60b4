// The dashboard's charts, drawn by the vendored Chart.js from the JSON block of the page: the
// same numbers as the tables beside them. Without JavaScript the tables say it all.
(function () {
  "use strict";

  function draw() {
    var source = document.getElementById("stats-data");
    if (!source || typeof window.Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    var common = {
      responsive: true,
      maintainAspectRatio: false,
      animation: reduced ? false : { duration: 400 },
      plugins: { legend: { position: "bottom" } }
    };
    var blue = "#1f5f99";
    var orange = "#b35900";
    var green = "#2e7d32";

    var sites = document.getElementById("chart-sites");
    if (sites) {
      new window.Chart(sites, {
        type: "bar",
        data: {
          labels: data.sites.labels,
          datasets: [
            { label: data.sites.label_occupancy, data: data.sites.occupancy, backgroundColor: blue },
            { label: data.sites.label_availability, data: data.sites.availability, backgroundColor: green }
          ]
        },
        options: Object.assign({}, common, {
          indexAxis: "y",
          scales: { x: { min: 0, max: 100 } }
        })
      });
    }

    var days = document.getElementById("chart-days");
    if (days) {
      new window.Chart(days, {
        type: "line",
        data: {
          labels: data.days.labels,
          datasets: [
            { label: data.days.label_sessions, data: data.days.sessions, borderColor: blue, backgroundColor: blue },
            { label: data.days.label_charging, data: data.days.charging, borderColor: orange, backgroundColor: orange },
            { label: data.days.label_wifi, data: data.days.wifi, borderColor: green, backgroundColor: green }
          ]
        },
        options: Object.assign({}, common, { scales: { y: { beginAtZero: true } } })
      });
    }

    var ended = document.getElementById("chart-ended");
    if (ended) {
      new window.Chart(ended, {
        type: "bar",
        data: {
          labels: data.ended.labels,
          datasets: [{ label: data.ended.label, data: data.ended.values, backgroundColor: blue }]
        },
        options: Object.assign({}, common, { indexAxis: "y", plugins: { legend: { display: false } } })
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
