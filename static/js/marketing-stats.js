// Campaign statistics (staff): discount cost and GMV per campaign as grouped
// bars (Apache ECharts, vendored), drawn from the JSON the view renders with
// json_script. No data: the page says so instead of an empty chart.
(function () {
  "use strict";
  function draw(el) {
    var source = document.getElementById(el.getAttribute("data-campaign-chart"));
    if (!source || !window.echarts) return;
    var data = JSON.parse(source.textContent);
    if (!data.labels.length) {
      el.classList.add("muted", "small");
      el.style.height = "auto";
      el.textContent = data.text.none;
      return;
    }
    var chart = window.echarts.init(el, null, { renderer: "svg", locale: data.locale });
    chart.setOption({
      animation: false,
      grid: { left: 4, right: 8, top: 30, bottom: 4, containLabel: true },
      legend: { top: 0, data: [data.text.cost, data.text.gmv] },
      tooltip: { trigger: "axis", confine: true, valueFormatter: function (v) { return "¥" + Number(v).toFixed(2); } },
      xAxis: { type: "category", data: data.labels, axisLabel: { fontSize: 10, interval: 0, rotate: data.labels.length > 4 ? 30 : 0 } },
      yAxis: { type: "value", axisLabel: { fontSize: 10, formatter: function (v) { return "¥" + v; } } },
      series: [
        { name: data.text.cost, type: "bar", data: data.cost.map(Number), itemStyle: { color: "#ff5a1f" } },
        { name: data.text.gmv, type: "bar", data: data.gmv.map(Number), itemStyle: { color: "#0f766e" } },
      ],
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-campaign-chart]").forEach(draw);
  });
})();
