// Analytics reports and dashboard: every [data-analytics-chart] element is drawn
// with Apache ECharts (vendored) from the JSON the page renders with
// json_script (its id is the attribute's value): {kind: "line"|"bar",
// labels, series: [{name, data}], unit: "yuan"|"count"|"percent", locale}.
// Axis numbers are written the Chinese way: 万 from 10,000 on, ¥ for money.
(function () {
  "use strict";

  function wan(v, digits) {
    if (v === null || v === undefined) return "—";
    var abs = Math.abs(v);
    if (abs >= 10000) return (v / 10000).toFixed(digits) + "万";
    return digits ? v.toFixed(digits) : String(Math.round(v));
  }

  function formatter(unit, exact) {
    if (unit === "percent") {
      return function (v) { return v === null || v === undefined ? "—" : v + "%"; };
    }
    if (unit === "yuan") {
      return function (v) {
        if (v === null || v === undefined) return "—";
        return "¥" + (exact ? wan(v, 2) : wan(v, Math.abs(v) >= 10000 ? 1 : 0));
      };
    }
    return function (v) { return wan(v, 0); };
  }

  function drawChart(el) {
    var source = document.getElementById(el.getAttribute("data-analytics-chart"));
    if (!source || !window.echarts) return;
    var data = JSON.parse(source.textContent);
    el.style.width = "100%";
    el.style.height = "260px";
    var chart = window.echarts.init(el, null, { renderer: "svg", locale: data.locale });
    chart.setOption({
      animation: false,
      grid: { left: 4, right: 12, top: 40, bottom: 4, containLabel: true },
      legend: { type: "scroll", top: 0, textStyle: { fontSize: 11 } },
      tooltip: { trigger: "axis", confine: true, valueFormatter: formatter(data.unit, true) },
      xAxis: {
        type: "category",
        data: data.labels,
        axisLabel: { fontSize: 10, color: "#6b7280", hideOverlap: true },
      },
      yAxis: {
        type: "value",
        min: 0,
        max: data.unit === "percent" ? 100 : null,
        minInterval: data.unit === "count" ? 1 : null,
        axisLabel: { fontSize: 10, color: "#6b7280", formatter: formatter(data.unit, false) },
        splitLine: { lineStyle: { color: "#eef0ef" } },
      },
      series: data.series.map(function (s) {
        return {
          type: data.kind === "bar" ? "bar" : "line",
          name: s.name,
          data: s.data,
          connectNulls: false,
          symbolSize: 5,
        };
      }),
    });
    el.setAttribute("data-chart-ready", "true");
    el.setAttribute("data-chart-series", String(data.series.length));
    if (window.ResizeObserver) {
      new ResizeObserver(function () { chart.resize(); }).observe(el);
    } else {
      window.addEventListener("resize", function () { chart.resize(); });
    }
  }

  document.querySelectorAll("[data-analytics-chart]").forEach(drawChart);
})();
