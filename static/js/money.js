// Money pages: the leader's 30-day chart (Apache ECharts, vendored) drawn from
// the JSON the view renders with json_script: bars with a value axis in ¥,
// the best day and the daily average marked, a tap shows that day's amount.
// The withdrawal form shows bank fields only for a bank transfer.
(function () {
  "use strict";

  var BRAND = "#ff5a1f";
  var NEGATIVE = "#0f766e";

  function yuan(value) {
    return "¥" + Number(value).toFixed(2);
  }

  function drawChart(el) {
    var source = document.getElementById(el.getAttribute("data-money-chart"));
    var detail = el.parentElement.querySelector("[data-chart-detail]");
    if (!source || !window.echarts) return;
    var data = JSON.parse(source.textContent);
    var values = data.amounts.map(Number);
    var hasAny = values.some(function (v) { return v !== 0; });
    var chart = window.echarts.init(el, null, { renderer: "svg", locale: data.locale });

    function show(index) {
      if (index < 0 || index >= values.length) return;
      if (detail) detail.textContent = data.dates[index] + " " + yuan(data.amounts[index]);
      el.setAttribute("data-active-day", data.dates[index]);
    }

    chart.setOption({
      animation: false,
      grid: { left: 4, right: 8, top: 30, bottom: 4, containLabel: true },
      tooltip: {
        trigger: "axis",
        triggerOn: "click",
        confine: true,
        axisPointer: { type: "shadow" },
        valueFormatter: yuan,
      },
      xAxis: {
        type: "category",
        data: data.labels,
        axisTick: { alignWithLabel: true },
        axisLabel: { fontSize: 10, color: "#6b7280", interval: 6, hideOverlap: true },
        axisLine: { lineStyle: { color: "#d6dcda" } },
      },
      yAxis: {
        type: "value",
        splitNumber: 3,
        minInterval: 0.01,
        max: hasAny ? null : 1,
        axisLabel: { fontSize: 10, color: "#6b7280", formatter: function (v) { return "¥" + v; } },
        splitLine: { lineStyle: { color: "#eef0ef" } },
      },
      series: [{
        type: "bar",
        name: data.text.series,
        data: values,
        barMaxWidth: 12,
        barMinHeight: 0,
        itemStyle: {
          color: function (p) { return p.value < 0 ? NEGATIVE : BRAND; },
          borderRadius: [2, 2, 0, 0],
        },
        emphasis: { itemStyle: { color: "#e04a12" } },
        markPoint: hasAny ? {
          // A tag just above the best bar, as wide as its amount.
          symbol: "roundRect",
          symbolSize: function (value) { return [10 + 6.5 * yuan(value).length, 18]; },
          symbolOffset: [0, -14],
          itemStyle: { color: "#e04a12" },
          label: {
            fontSize: 10,
            color: "#fff",
            textBorderWidth: 0,
            formatter: function (p) { return yuan(p.value); },
          },
          data: [{ type: "max", name: data.text.max }],
        } : undefined,
        markLine: hasAny ? {
          symbol: "none",
          silent: true,
          lineStyle: { color: "#9ca3af", type: "dashed" },
          label: {
            position: "insideStartTop",
            fontSize: 10,
            color: "#6b7280",
            formatter: function (p) { return data.text.average + " " + yuan(p.value); },
          },
          data: [{ type: "average", name: data.text.average }],
        } : undefined,
      }],
    });

    // A tap anywhere in a day's column (not only on its bar, which may be 0 px
    // high) picks that day.
    chart.getZr().on("click", function (event) {
      var point = [event.offsetX, event.offsetY];
      if (!chart.containPixel("grid", point)) return;
      var index = chart.convertFromPixel({ seriesIndex: 0 }, point)[0];
      show(index);
      chart.dispatchAction({ type: "showTip", seriesIndex: 0, dataIndex: index });
    });
    el.setAttribute("data-chart-ready", "true");
    if (window.ResizeObserver) {
      new ResizeObserver(function () { chart.resize(); }).observe(el);
    } else {
      window.addEventListener("resize", function () { chart.resize(); });
    }
  }

  document.querySelectorAll("[data-money-chart]").forEach(drawChart);

  document.querySelectorAll("[data-withdraw-form]").forEach(function (form) {
    var method = form.querySelector("select[name=method]");
    if (!method) return;
    function sync() {
      form.querySelectorAll(".bank-only").forEach(function (el) { el.hidden = method.value !== "bank"; });
    }
    method.addEventListener("change", sync);
    sync();
  });
})();
