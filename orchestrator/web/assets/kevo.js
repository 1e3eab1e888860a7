// kevo serve: live refresh and the fitness chart. No libraries; archive text reaches the page
// only through textContent (the server escapes the HTML it renders).
"use strict";

(function () {
  const STATUS_COLOURS = {
    ok: "#2f6fdf", compile_error: "#d62728", inaccurate: "#ff8c1a", timeout: "#9467bd",
    crash: "#8c564b", launch_error: "#e377c2", invalid_plan: "#7f7f7f", cheat_detected: "#111111",
  };
  const ISLAND_COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
                          "#a6761d", "#666666"];
  const chart = { points: [], after: 0, metric: "", islands: 1, loaded: false };

  function statusColour(s) { return STATUS_COLOURS[s] || "#9aa5b4"; }

  async function fetchJson(url) {
    const r = await fetch(url, { cache: "no-store" });
    if (!r.ok) throw new Error(url + ": HTTP " + r.status);
    return r.json();
  }

  async function loadPoints() {
    const j = await fetchJson("/api/points?after=" + chart.after);
    chart.metric = j.fitness_metric;
    chart.islands = j.islands;
    // Keep what precedes `after`: the answer holds every evaluation past it (some may be ones
    // that were pending last time, so the tail is taken again rather than appended to).
    let keep = chart.points.length;
    while (keep > 0 && chart.points[keep - 1].id > j.after) keep--;
    chart.points.length = keep;
    for (const p of j.points) {
      chart.points.push({ id: p[0], island: p[1], status: j.statuses[p[2]], fitness: p[3] });
    }
    chart.after = j.next_after;
    chart.loaded = true;
  }

  function niceTicks(max, count) {
    if (!(max > 0)) return [0];
    const raw = max / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    const ticks = [0];
    while (ticks[ticks.length - 1] < max) ticks.push(ticks.length * step);  // the last covers max
    return ticks;
  }

  // Geometry of the last drawing, for hover and click.
  let layout = null;

  function drawChart() {
    const canvas = document.getElementById("fitness");
    if (!canvas || !chart.loaded) return;
    const cssW = canvas.clientWidth || 900, cssH = canvas.clientHeight || 320;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, cssW, cssH);
    const L = 52, R = 12, T = 10, B = 52, FAIL = 18;
    const w = cssW - L - R, h = cssH - T - B - FAIL;
    const pts = chart.points;
    const n = Math.max(1, pts.length);
    let maxFit = 0;
    for (const p of pts) if (p.fitness !== null && p.fitness > maxFit) maxFit = p.fitness;
    const yTicks = niceTicks(maxFit > 0 ? maxFit * 1.05 : 1, 5);
    const yMax = yTicks[yTicks.length - 1] || 1;
    const xOf = (i) => L + (n === 1 ? w / 2 : (i / (n - 1)) * w);
    const yOf = (f) => T + h - (f / yMax) * h;
    // Axes and grid.
    g.font = "11px system-ui, sans-serif";
    g.fillStyle = "#5b6676";
    g.strokeStyle = "#e3e7ec";
    g.lineWidth = 1;
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (const v of yTicks) {
      const y = Math.round(yOf(v)) + 0.5;
      g.beginPath(); g.moveTo(L, y); g.lineTo(L + w, y); g.stroke();
      g.fillText(String(+v.toPrecision(3)), L - 6, y);
    }
    g.fillText("failed", L - 6, T + h + FAIL / 2 + 2);
    g.textAlign = "center";
    g.textBaseline = "top";
    for (const v of niceTicks(n, 6)) {
      if ((v < 1 && n > 1) || v > n) continue;
      const x = xOf(Math.min(n - 1, v - 1));
      g.textAlign = x > L + w - 30 ? "right" : "center";  // the last label stays inside
      g.fillText(String(v), x, T + h + FAIL + 6);
    }
    g.textAlign = "center";
    g.fillText("evaluations (in program id order)", L + w / 2, T + h + FAIL + 24);
    g.save();
    g.translate(12, T + h / 2);
    g.rotate(-Math.PI / 2);
    g.fillText(chart.metric, 0, 0);
    g.restore();
    // Dots: ok programs at their fitness, failures in the band under the axis.
    const screen = new Float32Array(pts.length * 2);
    const size = pts.length > 20000 ? 1.6 : pts.length > 2000 ? 2.4 : 3.5;
    pts.forEach((p, i) => {
      const x = xOf(i);
      const y = p.fitness !== null ? yOf(p.fitness)
                                   : T + h + 4 + ((p.id * 2654435761) % 1000) / 1000 * (FAIL - 8);
      screen[2 * i] = x;
      screen[2 * i + 1] = y;
      g.fillStyle = statusColour(p.status);
      g.globalAlpha = p.fitness !== null ? 0.55 : 0.35;
      g.fillRect(x - size / 2, y - size / 2, size, size);
    });
    g.globalAlpha = 1;
    // Best so far per island, as steps.
    const best = new Array(chart.islands).fill(null);
    const paths = best.map(() => []);
    pts.forEach((p, i) => {
      if (p.fitness === null || p.island >= best.length) return;
      if (best[p.island] === null || p.fitness > best[p.island]) {
        best[p.island] = p.fitness;
        paths[p.island].push([xOf(i), yOf(p.fitness)]);
      }
    });
    g.lineWidth = 2;
    paths.forEach((path, isl) => {
      if (!path.length) return;
      g.strokeStyle = ISLAND_COLOURS[isl % ISLAND_COLOURS.length];
      g.beginPath();
      g.moveTo(path[0][0], path[0][1]);
      for (let k = 1; k < path.length; k++) {
        g.lineTo(path[k][0], path[k - 1][1]);
        g.lineTo(path[k][0], path[k][1]);
      }
      g.lineTo(L + w, path[path.length - 1][1]);
      g.stroke();
    });
    layout = { screen, L, w, n };
    drawLegend(best);
    canvas.dataset.drawn = String(pts.length);
  }

  function drawLegend(best) {
    const el = document.getElementById("fitness-legend");
    if (!el) return;
    const counts = {};
    for (const p of chart.points) counts[p.status] = (counts[p.status] || 0) + 1;
    el.replaceChildren();
    const add = (cls, colour, text) => {
      const item = document.createElement("span");
      const sw = document.createElement("span");
      sw.className = cls;
      sw.style.background = colour;
      item.append(sw, document.createTextNode(text));
      el.append(item);
    };
    for (const s of Object.keys(counts).sort((a, b) => counts[b] - counts[a])) {
      add("sw", statusColour(s), s + " " + counts[s].toLocaleString());
    }
    best.forEach((b, i) => {
      if (b !== null) {
        add("ln", ISLAND_COLOURS[i % ISLAND_COLOURS.length],
            "island " + i + " best " + (+b.toPrecision(4)));
      }
    });
  }

  function nearest(ev) {
    const canvas = document.getElementById("fitness");
    if (!layout || !canvas) return -1;
    const rect = canvas.getBoundingClientRect();
    const mx = ev.clientX - rect.left, my = ev.clientY - rect.top;
    const { screen, L, w, n } = layout;
    const centre = Math.round(((mx - L) / Math.max(1, w)) * (n - 1));
    const span = Math.max(3, Math.ceil((n / Math.max(1, w)) * 6));
    let bestI = -1, bestD = 64;  // within 8 px
    for (let i = Math.max(0, centre - span); i <= Math.min(n - 1, centre + span); i++) {
      const dx = screen[2 * i] - mx, dy = screen[2 * i + 1] - my;
      const d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; bestI = i; }
    }
    return bestI;
  }

  // The canvas's hover and click; again after a live reload replaced the canvas.
  function attachChartEvents() {
    const canvas = document.getElementById("fitness");
    if (!canvas) return false;
    const tip = document.getElementById("fitness-tip");
    canvas.addEventListener("mousemove", (ev) => {
      const i = nearest(ev);
      if (i < 0 || !tip) { if (tip) tip.style.display = "none"; return; }
      const p = chart.points[i];
      tip.textContent = "#" + p.id + "  " + p.status +
          (p.fitness !== null ? "  " + chart.metric + " " + (+p.fitness.toPrecision(4)) : "") +
          "  island " + p.island;
      tip.style.left = (layout.screen[2 * i] + 12) + "px";
      tip.style.top = (layout.screen[2 * i + 1] - 10) + "px";
      tip.style.display = "block";
    });
    canvas.addEventListener("mouseleave", () => { if (tip) tip.style.display = "none"; });
    canvas.addEventListener("click", (ev) => {
      const i = nearest(ev);
      if (i >= 0) location.href = "/program/" + chart.points[i].id;
    });
    return true;
  }

  function initChart() {
    if (attachChartEvents()) loadPoints().then(drawChart).catch(showOffline);
  }

  function showOffline() {
    const live = document.getElementById("live");
    if (live) { live.textContent = "offline"; live.classList.add("stale"); }
  }

  async function reloadMain() {
    const r = await fetch(location.href, { cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    const doc = new DOMParser().parseFromString(await r.text(), "text/html");
    const fresh = doc.querySelector("main");
    const main = document.querySelector("main");
    if (!fresh || !main) return;
    main.replaceWith(document.adoptNode(fresh));
    document.body.dataset.live = doc.body.dataset.live || "0";
    if (attachChartEvents()) {
      await loadPoints();  // only the evaluations since the last fetch
      drawChart();
    }
  }

  function startLive() {
    let version = null;
    const live = document.getElementById("live");
    async function tick() {
      const every = Number(document.body.dataset.live || 0);
      if (!every) { if (live) live.textContent = ""; return; }
      try {
        const v = (await fetchJson("/api/version")).version;
        if (version !== null && v !== version) await reloadMain();
        version = v;
        if (live) { live.textContent = "live"; live.classList.remove("stale"); }
      } catch (e) {
        showOffline();
      }
      setTimeout(tick, every * 1000);
    }
    if (Number(document.body.dataset.live || 0)) setTimeout(tick, 0);
  }

  document.addEventListener("DOMContentLoaded", () => {
    initChart();
    startLive();
    let timer = null;
    window.addEventListener("resize", () => {
      clearTimeout(timer);
      timer = setTimeout(drawChart, 150);
    });
  });
})();
