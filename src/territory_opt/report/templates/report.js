/* territory-opt report: draws the charts and the moved-accounts table from the
   data embedded in #report-data. Plain JavaScript, no network access. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var GREY = "#bbbbbb";
  var CONFIG = { displaylogo: false, responsive: true };

  function colourOf(i) {
    return i >= 0 ? data.palette[i % data.palette.length] : GREY;
  }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  function pct(v) { return v === null ? null : 100 * v; }

  /* ---------------------------------------------------------------- frontier */
  function drawFrontier() {
    var f = data.frontier;
    var div = document.getElementById("frontier-chart");
    if (!f || !div) { return; }
    var dev = f.deviation.map(pct);
    var share = f.share.map(pct);
    var colours = f.efficient.map(function (e) { return e ? "#1f5fa8" : "#ffffff"; });
    function frontierLine(xs) {
      var idx = [];
      for (var i = 0; i < xs.length; i++) { if (f.efficient[i]) { idx.push(i); } }
      idx.sort(function (a, b) { return xs[a] - xs[b]; });
      return { x: idx.map(function (i) { return xs[i]; }), y: idx.map(function (i) { return dev[i]; }) };
    }
    var l1 = frontierLine(f.moved);
    var l2 = frontierLine(share);
    var point = { size: 11, color: colours, line: { color: "#1f5fa8", width: 2 } };
    var traces = [
      { x: l1.x, y: l1.y, mode: "lines", line: { color: "#8fb0d6", dash: "dot" }, hoverinfo: "skip", showlegend: false },
      { x: f.moved, y: dev, text: f.plans, mode: "markers+text", textposition: "top center", marker: point,
        hovertemplate: "%{text}<br>%{x} accounts moved<br>worst deviation %{y:.2f} %<extra></extra>", showlegend: false },
      { x: l2.x, y: l2.y, xaxis: "x2", yaxis: "y", mode: "lines", line: { color: "#8fb0d6", dash: "dot" }, hoverinfo: "skip", showlegend: false },
      { x: share, y: dev, text: f.plans, xaxis: "x2", yaxis: "y", mode: "markers+text", textposition: "top center", marker: point,
        hovertemplate: "%{text}<br>%{x:.2f} % of " + f.metric + " moved<br>worst deviation %{y:.2f} %<extra></extra>", showlegend: false }
    ];
    var layout = {
      margin: { t: 20, r: 20, b: 60, l: 70 },
      xaxis: { domain: [0, 0.47], title: { text: "accounts moved" }, rangemode: "tozero" },
      xaxis2: { domain: [0.53, 1], title: { text: "share of " + f.metric + " moved [%]" }, rangemode: "tozero", anchor: "y" },
      yaxis: { title: { text: "worst deviation from target [%]" }, rangemode: "tozero" }
    };
    Plotly.newPlot(div, traces, layout, CONFIG);
  }

  /* ------------------------------------------------------------------ sizing */
  function drawSizing() {
    var z = data.sizing;
    var div = document.getElementById("sizing-chart");
    if (!z || !div) { return; }
    var hover = [];
    for (var i = 0; i < z.n.length; i++) {
      hover.push(z.n[i] + " reps<br>feasible: " + z.feasible[i] + " (" + z.proof[i] + ")");
    }
    var traces = [
      { x: z.n, y: z.objective, text: hover, mode: "lines+markers", name: "objective",
        line: { color: "#1f5fa8" }, marker: { size: 8, color: "#1f5fa8" }, connectgaps: false,
        hovertemplate: "%{text}<br>objective %{y:,.2f}<extra></extra>" },
      { x: z.n, y: z.bound, text: hover, mode: "markers", name: "lower bound",
        marker: { size: 10, symbol: "circle-open", color: "#888", line: { width: 2 } },
        hovertemplate: "%{text}<br>lower bound %{y:,.2f}<extra></extra>" }
    ];
    function mark(n, name, symbol, colour) {
      var k = z.n.indexOf(n);
      if (n === null || k < 0 || z.objective[k] === null) { return; }
      traces.push({ x: [n], y: [z.objective[k]], mode: "markers+text", name: name + " (" + n + ")",
        text: [name], textposition: "top center",
        marker: { size: 16, symbol: symbol, color: colour, line: { color: "#000", width: 1 } },
        hovertemplate: name + ": %{x} reps<br>objective %{y:,.2f}<extra></extra>" });
    }
    mark(z.minimum, "minimum", "star", "#1ca71c");
    mark(z.knee, "knee", "diamond", "#e15f99");
    Plotly.newPlot(div, traces, {
      margin: { t: 20, r: 20, b: 60, l: 90 },
      xaxis: { title: { text: "team size [reps]" },
        dtick: Math.max(1, Math.ceil((z.n[z.n.length - 1] - z.n[0]) / 20)) },
      yaxis: { title: { text: "objective" } },
      legend: { orientation: "h", y: 1.12, x: 1, xanchor: "right" }
    }, CONFIG);
  }

  /* ----------------------------------------------------------------- per rep */
  function drawPerRep(k) {
    var box = document.getElementById("per-rep-charts");
    Array.prototype.forEach.call(box.querySelectorAll(".chart"), function (d) { Plotly.purge(d); });
    box.textContent = "";
    var r = data.perRep[k];
    if (!r) {
      box.appendChild(el("p", { "class": "note" }, "This plan assigns no accounts."));
      return;
    }
    var colours = r.colour.map(colourOf);
    r.metrics.forEach(function (m, j) {
      var div = el("div", { "class": "chart", id: "per-rep-" + j });
      box.appendChild(div);
      var up = [], down = [], hasBand = false;
      for (var i = 0; i < m.target.length; i++) {
        var t = m.target[i];
        up.push(m.hi[i] === null || t === null ? 0 : m.hi[i] - t);
        down.push(m.lo[i] === null || t === null ? 0 : t - m.lo[i]);
        if (m.hi[i] !== null || m.lo[i] !== null) { hasBand = true; }
      }
      var target = { x: r.reps, y: m.target, mode: "markers", name: "target" + (hasBand ? " and band" : ""),
        marker: { symbol: "line-ew-open", size: 14, color: "#111", line: { width: 2, color: "#111" } },
        hovertemplate: "%{x}: target %{y:,.0f}<extra></extra>" };
      if (hasBand) {
        target.error_y = { type: "data", symmetric: false, array: up, arrayminus: down, color: "#111", thickness: 1.5, width: 4 };
      }
      var title = m.metric + (m.band === null ? " (no band)" : " (band ±" + (100 * m.band).toFixed(1) + " %)");
      Plotly.newPlot(div, [
        { type: "bar", x: r.reps, y: m.total, name: m.metric, marker: { color: colours },
          hovertemplate: "%{x}: %{y:,.0f}<extra></extra>" },
        target
      ], {
        title: { text: title },
        margin: { t: 40, r: 20, b: 80, l: 80 },
        xaxis: { type: "category", title: { text: "rep" } },
        yaxis: { title: { text: m.metric } },
        legend: { orientation: "h", y: 1.12, x: 1, xanchor: "right" },
        bargap: 0.15
      }, CONFIG);
    });
    if (r.quota) {
      var q = r.quota;
      var div = el("div", { "class": "chart", id: "per-rep-quota" });
      box.appendChild(div);
      var maxX = 0;
      q.potential.forEach(function (v) { if (v !== null && v > maxX) { maxX = v; } });
      var traces = [
        { x: q.potential, y: q.quota, text: q.reps, mode: "markers", name: "rep",
          marker: { size: 9, color: q.colour.map(colourOf), line: { color: "#333", width: 1 } },
          hovertemplate: "%{text}<br>potential %{x:,.0f}<br>quota %{y:,.0f}<extra></extra>" }
      ];
      if (q.mean_ratio !== null) {
        traces.push({ x: [0, maxX], y: [0, maxX * q.mean_ratio], mode: "lines", name: "team average quota ÷ potential",
          line: { color: "#888", dash: "dash" }, hoverinfo: "skip" });
      }
      Plotly.newPlot(div, traces, {
        title: { text: "quota against effective potential" },
        margin: { t: 40, r: 20, b: 60, l: 90 },
        xaxis: { title: { text: "effective potential" }, rangemode: "tozero" },
        yaxis: { title: { text: "quota" }, rangemode: "tozero" },
        legend: { orientation: "h", y: 1.12, x: 1, xanchor: "right" }
      }, CONFIG);
    }
  }

  /* --------------------------------------------------------------------- map */
  function drawMap(k) {
    var div = document.getElementById("map-chart");
    var m = data.map;
    if (!m) {
      div.classList.remove("map");
      div.textContent = "The accounts have no locations to draw.";
      return;
    }
    var p = m.plans[k];
    var hover = [], colours = [];
    for (var i = 0; i < m.x.length; i++) {
      hover.push(p ? m.text[i] + "<br>rep " + p.rep[i] : m.text[i]);
      colours.push(p ? colourOf(p.colour[i]) : GREY);
    }
    var traces = [
      { type: "scatter", x: m.x, y: m.y, mode: "markers", name: "accounts", hovertext: hover, hoverinfo: "text",
        marker: { size: 5, color: colours, opacity: 0.85 } }
    ];
    if (p && p.outlines) {
      traces.push({ type: "scatter", x: p.outlines.x, y: p.outlines.y, mode: "lines", name: "territory outlines",
        line: { color: "#222", width: 1 }, hoverinfo: "skip", connectgaps: false });
    }
    if (p && p.centers) {
      traces.push({ type: "scatter", x: p.centers.x, y: p.centers.y, mode: "markers", name: "rep travel origin",
        hovertext: p.centers.rep, hoverinfo: "text",
        marker: { symbol: "diamond", size: 10, color: p.centers.colour.map(colourOf), line: { color: "#000", width: 1.5 } } });
    }
    var layout = {
      margin: { t: 10, r: 10, b: 50, l: 60 },
      xaxis: { title: { text: m.latlon ? "longitude" : "x" }, showgrid: false, zeroline: false },
      yaxis: { title: { text: m.latlon ? "latitude" : "y" }, showgrid: false, zeroline: false,
        scaleanchor: "x", scaleratio: 1 / m.aspect },
      legend: { orientation: "h", y: 1.02, x: 1, xanchor: "right", yanchor: "bottom" },
      hovermode: "closest"
    };
    Plotly.react(div, traces, layout, CONFIG);
  }

  /* ---------------------------------------------------------- moved accounts */
  var PAGE = 100;
  var moved = { k: 0, order: [], sortCol: -1, sortDir: 1, page: 0, query: "" };

  function formatCell(col, v) {
    if (v === null || v === undefined) { return "–"; }
    if (col.type === "num") {
      return v.toLocaleString("en-US", { maximumFractionDigits: col.digits, minimumFractionDigits: col.digits });
    }
    return String(v);
  }
  function applyMoved() {
    var c = data.moved[moved.k];
    var n = c.shown;
    var q = moved.query.toLowerCase();
    var textCols = [];
    c.columns.forEach(function (col, j) { if (col.type === "text") { textCols.push(j); } });
    var idx = [];
    for (var i = 0; i < n; i++) {
      if (!q) { idx.push(i); continue; }
      for (var t = 0; t < textCols.length; t++) {
        var v = c.values[textCols[t]][i];
        if (v !== null && String(v).toLowerCase().indexOf(q) !== -1) { idx.push(i); break; }
      }
    }
    if (moved.sortCol >= 0) {
      var vals = c.values[moved.sortCol];
      var num = c.columns[moved.sortCol].type === "num";
      var dir = moved.sortDir;
      idx.sort(function (a, b) {
        var x = vals[a], y = vals[b];
        if (x === y) { return a - b; }
        if (x === null) { return 1; }
        if (y === null) { return -1; }
        var d = num ? x - y : String(x).localeCompare(String(y));
        return d === 0 ? a - b : dir * d;
      });
    }
    moved.order = idx;
    moved.page = Math.min(moved.page, Math.max(0, Math.ceil(idx.length / PAGE) - 1));
    renderMoved();
  }
  function renderMoved() {
    var c = data.moved[moved.k];
    var table = document.getElementById("moved-table");
    var head = table.tHead, body = table.tBodies[0];
    head.textContent = "";
    body.textContent = "";
    var tr = el("tr");
    c.columns.forEach(function (col, j) {
      var th = el("th", { scope: "col", "class": col.type === "num" ? "num" : "", "data-col": String(j) }, col.label);
      if (j === moved.sortCol) { th.setAttribute("aria-sort", moved.sortDir > 0 ? "ascending" : "descending"); }
      th.addEventListener("click", function () {
        if (moved.sortCol === j) { moved.sortDir = -moved.sortDir; } else { moved.sortCol = j; moved.sortDir = col.type === "num" ? -1 : 1; }
        moved.page = 0;
        applyMoved();
      });
      tr.appendChild(th);
    });
    head.appendChild(tr);
    var start = moved.page * PAGE;
    var stop = Math.min(moved.order.length, start + PAGE);
    var frag = document.createDocumentFragment();
    for (var r = start; r < stop; r++) {
      var i = moved.order[r];
      var row = el("tr");
      c.columns.forEach(function (col, j) {
        row.appendChild(el("td", { "class": col.type === "num" ? "num" : col.key }, formatCell(col, c.values[j][i])));
      });
      frag.appendChild(row);
    }
    body.appendChild(frag);
    var pages = Math.max(1, Math.ceil(moved.order.length / PAGE));
    document.getElementById("moved-page").textContent = "page " + (moved.page + 1) + " of " + pages;
    document.getElementById("moved-prev").disabled = moved.page === 0;
    document.getElementById("moved-next").disabled = moved.page >= pages - 1;
    document.getElementById("moved-count").textContent = moved.order.length.toLocaleString("en-US") +
      " of " + c.shown.toLocaleString("en-US") + " rows";
    document.getElementById("moved-cap").textContent = c.shown < c.total
      ? "Showing the " + c.shown.toLocaleString("en-US") + " largest moves of " + c.total.toLocaleString("en-US") +
        " (by " + c.sortedBy + "); the Excel workbook lists all of them."
      : "";
  }
  function setupMoved() {
    var section = document.getElementById("moved");
    if (!data.moved.length) {
      section.querySelector(".controls").style.display = "none";
      section.querySelector(".pager").style.display = "none";
      document.getElementById("moved-cap").textContent = "No comparison: the plans have no current owners and no second plan.";
      return;
    }
    document.getElementById("moved-comparison").addEventListener("change", function (e) {
      moved.k = Number(e.target.value); moved.page = 0; moved.sortCol = -1; applyMoved();
    });
    document.getElementById("moved-filter").addEventListener("input", function (e) {
      moved.query = e.target.value; moved.page = 0; applyMoved();
    });
    document.getElementById("moved-prev").addEventListener("click", function () { moved.page -= 1; renderMoved(); });
    document.getElementById("moved-next").addEventListener("click", function () { moved.page += 1; renderMoved(); });
    applyMoved();
  }

  /* ------------------------------------------------------------------- start */
  drawSizing();
  drawFrontier();
  var perRepSelect = document.getElementById("per-rep-plan");
  perRepSelect.addEventListener("change", function () { drawPerRep(Number(perRepSelect.value)); });
  drawPerRep(0);
  var mapSelect = document.getElementById("map-plan");
  mapSelect.addEventListener("change", function () { drawMap(Number(mapSelect.value)); });
  drawMap(0);
  setupMoved();
  document.body.setAttribute("data-report-ready", "true");
})();
