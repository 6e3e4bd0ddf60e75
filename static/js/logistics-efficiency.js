// 物流数据: the on-time rate per day, one line per route (Apache ECharts,
// vendored), drawn from the JSON the page renders with json_script. A day
// without a run of a route is a gap in that route's line, never a zero.
(function () {
  "use strict";

  function drawChart(el) {
    var source = document.getElementById(el.getAttribute("data-efficiency-chart"));
    if (!source || !window.echarts) return;
    var data = JSON.parse(source.textContent);
    el.style.width = "100%";
    el.style.height = "280px";
    var chart = window.echarts.init(el, null, { renderer: "svg", locale: data.locale });
    chart.setOption({
      animation: false,
      grid: { left: 4, right: 12, top: 40, bottom: 4, containLabel: true },
      legend: { type: "scroll", top: 0, textStyle: { fontSize: 11 } },
      tooltip: {
        trigger: "axis",
        confine: true,
        valueFormatter: function (v) { return v === null || v === undefined ? "—" : v + "%"; },
      },
      xAxis: {
        type: "category",
        data: data.labels,
        axisLabel: { fontSize: 10, color: "#6b7280", hideOverlap: true },
      },
      yAxis: {
        type: "value",
        name: data.text.rate,
        min: 0,
        max: 100,
        axisLabel: { fontSize: 10, color: "#6b7280", formatter: "{value}%" },
        splitLine: { lineStyle: { color: "#eef0ef" } },
      },
      series: data.series.map(function (s) {
        return { type: "line", name: s.name, data: s.data, connectNulls: false, symbolSize: 6 };
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

  document.querySelectorAll("[data-efficiency-chart]").forEach(drawChart);
})();
