/* The sliders of notebook 05 on the course website, without a Python kernel.

   .ppo-clip-slider: the clip-ε slider, computed in the page. For A = +1 and A = -1 it plots, against the
   probability ratio r on the grid r_k = k/200 (k = 0..500), the surrogate r·A (dashed), the clipped objective
   min(r·A, clip(r, 1-ε, 1+ε)·A) (solid: the formula of ppo_lite.objectives.clipped_objective) and the band edges
   1 ± ε (dotted), and redraws them whenever ε moves. Each plot's <svg> carries its axes in data-* attributes
   (data-x-min ... data-height), so the plotted values can be read back from the polylines' points
   (tests/test_site.py does, and compares them with ppo_lite.objectives).

   .ppo-frames: a slider over precomputed frames (one PNG per setting of a committed results file). */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg"; // the SVG namespace name (an identifier, not a request)
  var GRID = 500, GRID_DIV = 200; // r_k = k / 200: one correctly rounded division, as Python's k / 200
  var BOX = {width: 400, height: 270, left: 54, right: 12, top: 30, bottom: 44};

  function clip(x, lo, hi) { return Math.min(Math.max(x, lo), hi); }
  function clippedObjective(r, a, eps) { return Math.min(r * a, clip(r, 1.0 - eps, 1.0 + eps) * a); }

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function panel(sign) {
    var w = BOX.width - BOX.left - BOX.right, h = BOX.height - BOX.top - BOX.bottom;
    var x0 = 0, x1 = GRID / GRID_DIV, y0 = sign > 0 ? -0.25 : -2.75, y1 = sign > 0 ? 2.75 : 0.25;
    var sx = function (x) { return BOX.left + (x - x0) / (x1 - x0) * w; };
    var sy = function (y) { return BOX.top + (y1 - y) / (y1 - y0) * h; };
    var svg = el("svg", {viewBox: "0 0 " + BOX.width + " " + BOX.height, role: "img", "class": "ppo-clip-plot",
                         "data-sign": sign, "data-x-min": x0, "data-x-max": x1, "data-y-min": y0, "data-y-max": y1,
                         "data-left": BOX.left, "data-top": BOX.top, "data-width": w, "data-height": h});
    el("rect", {x: BOX.left, y: BOX.top, width: w, height: h, "class": "ppo-frame"}, svg);
    for (var t = 0; t <= 5; t++) { // x ticks every 0.5
      var xt = t / 2;
      el("line", {x1: sx(xt), x2: sx(xt), y1: BOX.top + h, y2: BOX.top + h + 4, "class": "ppo-tick"}, svg);
      el("text", {x: sx(xt), y: BOX.top + h + 16, "text-anchor": "middle", "class": "ppo-tick-label"}, svg)
        .textContent = xt.toFixed(1);
    }
    for (var s = 0; s <= 5; s++) { // y ticks every 0.5 from 0 towards the sign of A
      var yt = sign * s / 2;
      el("line", {x1: BOX.left - 4, x2: BOX.left, y1: sy(yt), y2: sy(yt), "class": "ppo-tick"}, svg);
      el("text", {x: BOX.left - 7, y: sy(yt) + 4, "text-anchor": "end", "class": "ppo-tick-label"}, svg)
        .textContent = yt.toFixed(1);
    }
    el("line", {x1: BOX.left, x2: BOX.left + w, y1: sy(0), y2: sy(0), "class": "ppo-zero"}, svg);
    el("text", {x: BOX.left + w / 2, y: BOX.height - 8, "text-anchor": "middle", "class": "ppo-axis-label"}, svg)
      .textContent = "probability ratio r = π_θ(a|s) / π_old(a|s)";
    el("text", {x: 14, y: BOX.top + h / 2, "text-anchor": "middle", "class": "ppo-axis-label",
                transform: "rotate(-90 14 " + (BOX.top + h / 2) + ")"}, svg)
      .textContent = "objective per sample (A = " + (sign > 0 ? "+1" : "−1") + ")";
    var title = el("text", {x: BOX.left + w / 2, y: 18, "text-anchor": "middle", "class": "ppo-title"}, svg);
    var parts = {
      low: el("line", {y1: BOX.top, y2: BOX.top + h, "class": "ppo-band ppo-band-low"}, svg),
      high: el("line", {y1: BOX.top, y2: BOX.top + h, "class": "ppo-band ppo-band-high"}, svg),
      surrogate: el("polyline", {"class": "ppo-surrogate", fill: "none"}, svg),
      clipped: el("polyline", {"class": "ppo-clipped", fill: "none"}, svg)
    };
    function draw(eps) {
      var sur = [], cl = [];
      for (var k = 0; k <= GRID; k++) {
        var r = k / GRID_DIV;
        sur.push(sx(r).toFixed(3) + "," + sy(r * sign).toFixed(3));
        cl.push(sx(r).toFixed(3) + "," + sy(clippedObjective(r, sign, eps)).toFixed(3));
      }
      parts.surrogate.setAttribute("points", sur.join(" "));
      parts.clipped.setAttribute("points", cl.join(" "));
      [["low", 1 - eps], ["high", 1 + eps]].forEach(function (edge) {
        parts[edge[0]].setAttribute("x1", sx(edge[1]).toFixed(3));
        parts[edge[0]].setAttribute("x2", sx(edge[1]).toFixed(3));
      });
      title.textContent = (sign > 0 ? "A > 0: flat (zero gradient) for r > 1+ε = " + (1 + eps).toFixed(2)
                                    : "A < 0: flat (zero gradient) for r < 1−ε = " + (1 - eps).toFixed(2));
    }
    return {svg: svg, draw: draw};
  }

  function legend() {
    var box = document.createElement("div");
    box.className = "ppo-legend";
    box.innerHTML = '<span><span class="ppo-key ppo-key-clipped"></span>J<sup>clip</sup> = min(rA, clip(r, 1−ε, 1+ε)A)</span>' +
      '<span><span class="ppo-key ppo-key-surrogate"></span>surrogate rA</span>' +
      '<span><span class="ppo-key ppo-key-band"></span>band edges 1 ± ε</span>';
    return box;
  }

  function controls(container, description, attrs) {
    var row = document.createElement("label");
    row.className = "ppo-controls";
    var name = document.createElement("span");
    name.textContent = description;
    var input = document.createElement("input");
    input.type = "range";
    Object.keys(attrs).forEach(function (k) { input.setAttribute(k, attrs[k]); });
    var readout = document.createElement("output");
    row.appendChild(name); row.appendChild(input); row.appendChild(readout);
    container.appendChild(row);
    return {input: input, readout: readout};
  }

  function clipSlider(container) {
    var eps0 = parseFloat(container.dataset.eps);
    var c = controls(container, "clip ε", {min: container.dataset.epsMin, max: container.dataset.epsMax,
                                           step: container.dataset.epsStep, value: eps0, "aria-label": "clip epsilon"});
    var plots = document.createElement("div");
    plots.className = "ppo-clip-plots";
    var panels = [panel(+1), panel(-1)];
    panels.forEach(function (p) { plots.appendChild(p.svg); });
    container.appendChild(plots);
    container.appendChild(legend());
    var redraws = 0;
    function redraw() {
      var eps = parseFloat(c.input.value);
      if (!(eps > 0)) return;
      panels.forEach(function (p) { p.draw(eps); });
      c.readout.textContent = eps.toFixed(2);
      container.dataset.shownEps = String(eps);
      container.dataset.redraws = String(++redraws);
    }
    c.input.addEventListener("input", redraw);
    redraw();
  }

  function frames(container) {
    var data = JSON.parse(container.querySelector("script[type='application/json']").textContent);
    var labels = data.labels, envs = data.envs;
    var c = controls(container, container.dataset.description || "setting",
                     {min: 0, max: labels.length - 1, step: 1, value: Math.max(0, labels.indexOf(data.value)),
                      "aria-label": container.dataset.description || "setting"});
    var env = null;
    if (envs.length > 1) {
      env = document.createElement("select");
      envs.forEach(function (e) { var o = document.createElement("option"); o.value = o.textContent = e; env.appendChild(o); });
      c.input.parentNode.appendChild(env);
    }
    var img = document.createElement("img");
    img.className = "ppo-frame-image";
    container.appendChild(img);
    function show() {
      var label = labels[parseInt(c.input.value, 10)], envId = env ? env.value : envs[0];
      var frame = data.frames.filter(function (f) { return f.label === label && f.env === envId; })[0];
      img.src = frame.src;
      img.alt = "training curves of the clip-range sweep: " + envId + ", setting " + label;
      c.readout.textContent = label;
      container.dataset.shownLabel = label;
    }
    c.input.addEventListener("input", show);
    if (env) env.addEventListener("change", show);
    show();
  }

  function init() {
    document.querySelectorAll(".ppo-clip-slider").forEach(clipSlider);
    document.querySelectorAll(".ppo-frames").forEach(frames);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
