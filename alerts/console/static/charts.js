// Draws every <figure class="chart" data-chart="ID"> of a console page with the vendored uPlot.
// The data is the JSON in the figure's <script type="application/json"> (alerts/console/timeseries.py
// `chart`): {"title", "x": [epoch s], "series": [{"label", "values", "scale"}],
// "axes": [{"scale", "label", "range"?: [min, max], "zero"?: true}]}.
// Times are shown in UTC on a 24-hour clock, like every time in the console.
(function () {
  "use strict";
  var COLORS = ["#c62828", "#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#4e342e"];

  function utc(ts) {
    return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");
  }

  var clock = uPlot.fmtDate("{HH}:{mm}");
  var day = uPlot.fmtDate("{MM}-{DD} {HH}:{mm}");

  function fromZero(u, min, max) {
    return [0, max > 0 ? max * 1.1 : 1];
  }

  function options(figure, data) {
    var small = figure.classList.contains("small");
    var span = data.x[data.x.length - 1] - data.x[0];
    var ticks = span > 86400 ? day : clock;
    var scales = { x: { time: true } };
    var axes = [{
      space: small ? 90 : 70,
      values: function (u, splits) { return splits.map(function (ts) { return ticks(utc(ts)); }); },
    }];
    data.axes.forEach(function (a, i) {
      scales[a.scale] = a.range ? { range: a.range } : a.zero ? { range: fromZero } : { auto: true };
      axes.push({ scale: a.scale, label: a.label || null, side: i === 0 ? 3 : 1, grid: { show: i === 0 }, size: 56 });
    });
    var series = [{ label: "UTC", value: function (u, ts) { return ts == null ? "--" : day(utc(ts)); } }];
    data.series.forEach(function (s, i) {
      series.push({
        label: s.label,
        scale: s.scale,
        stroke: COLORS[i % COLORS.length],
        width: 1.5,
        spanGaps: true,
        points: { show: data.x.length < 40 },
      });
    });
    return {
      width: Math.max(figure.clientWidth, 200),
      height: small ? 130 : 230,
      tzDate: utc,
      scales: scales,
      axes: axes,
      series: series,
      legend: { show: !small || data.series.length > 1 },
      cursor: { drag: { x: true, y: false } },
    };
  }

  function draw(figure) {
    if (figure.dataset.drawn || typeof uPlot === "undefined") return;
    var source = figure.querySelector('script[type="application/json"]');
    if (!source) return;
    var data = JSON.parse(source.textContent);
    if (!data.x || data.x.length === 0 || data.series.length === 0) return;
    figure.dataset.drawn = "1";
    var rows = [data.x].concat(data.series.map(function (s) { return s.values; }));
    var opts = options(figure, data);
    var plot = new uPlot(opts, rows, figure);
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(figure.clientWidth, 200), height: opts.height });
    });
  }

  function drawAll(root) {
    (root || document).querySelectorAll("figure.chart[data-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawAll(document);
    if (window.htmx) window.htmx.onLoad(drawAll);
  });
})();
