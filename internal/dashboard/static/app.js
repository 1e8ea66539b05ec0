// hashfleet dashboard: renders snapshots pushed over server-sent events.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const colors = ["#f7931a", "#58a6ff", "#3fb950", "#d2a8ff", "#ff7b72", "#79c0ff", "#ffa657", "#7ee787"];
  let history = [];
  const maxPoints = 300;
  const seenBlocks = new Set();

  function rate(h) {
    if (!isFinite(h) || h <= 0) return "0 H/s";
    const u = ["H/s", "kH/s", "MH/s", "GH/s", "TH/s", "PH/s"];
    let i = 0;
    while (h >= 1000 && i < u.length - 1) { h /= 1000; i++; }
    return h.toFixed(h < 10 ? 2 : h < 100 ? 1 : 0) + " " + u[i];
  }
  function num(x) { return x === undefined || x === null ? "–" : Number(x).toLocaleString("en-US", { maximumFractionDigits: 4 }); }
  function text(id, v) { const e = $(id); if (e) e.textContent = v; }
  function el(tag, props, kids) {
    const e = document.createElement(tag);
    Object.assign(e, props || {});
    (kids || []).forEach((k) => e.append(k));
    return e;
  }
  function fill(tbody, rows, emptyText, cols) {
    const t = $(tbody);
    t.replaceChildren();
    if (!rows.length && emptyText) {
      t.append(el("tr", { className: "empty" }, [el("td", { colSpan: cols, textContent: emptyText })]));
      return;
    }
    rows.forEach((r) => t.append(r));
  }
  function short(h) { return h ? h.slice(0, 8) + "…" + h.slice(-8) : ""; }
  function blockLink(hash) {
    const a = el("a", { href: "/api/blocks/" + hash, textContent: short(hash), title: hash });
    a.addEventListener("click", async (ev) => {
      ev.preventDefault();
      const pre = $("block-detail");
      pre.hidden = false;
      pre.textContent = "loading " + hash + " …";
      try {
        const r = await fetch("/api/blocks/" + hash);
        pre.textContent = JSON.stringify(await r.json(), null, 2);
      } catch (e) { pre.textContent = String(e); }
    });
    return a;
  }

  function foundRow(b) {
    const tr = el("tr", {}, [el("td", { textContent: num(b.height) }), el("td", { className: "hash" }, [blockLink(b.hash)]),
      el("td", { textContent: b.state || "accepted" }), el("td", { textContent: b.result || "" })]);
    tr.dataset.hash = b.hash;
    return tr;
  }
  // Older found blocks, a page at a time from /api/found (the live
  // updates carry only the latest few).
  let olderShown = 0;
  async function loadOlder() {
    const live = $("blocks-found").querySelectorAll("tr[data-hash]").length;
    try {
      const r = await fetch("/api/found?limit=50&offset=" + (live + olderShown));
      const p = await r.json();
      (p.blocks || []).forEach((b) => $("found-old").append(foundRow(b)));
      olderShown += (p.blocks || []).length;
      $("found-old-table").hidden = olderShown === 0;
    } catch (e) { text("found-shown", String(e)); }
  }

  function render(s) {
    const srv = s.server || {}, ch = s.chain || {}, cl = s.cluster || {};
    const workers = s.workers || [];
    let total = srv.hashrate || 0;
    if (!total) workers.forEach((w) => { total += w.hashrate || 0; });
    text("hashrate", rate(total));
    text("height", ch.height ? num(ch.height) : "–");
    text("nworkers", String(workers.length));
    const found = srv.blocks || [];
    const foundTotal = srv.blocks_total || found.length;
    text("found", String(foundTotal));
    $("found-more").hidden = foundTotal <= found.length;
    text("found-shown", "latest " + found.length + " of " + foundTotal);

    text("srv-addr", srv.address || "–");
    text("srv-conns", num(srv.connections));
    text("srv-diff", num(srv.difficulty));
    text("srv-jobh", srv.job_height ? num(srv.job_height) : "–");
    text("srv-acc", num(srv.accepted));
    const rej = srv.rejected || {};
    const rk = Object.keys(rej).sort();
    text("srv-rej", rk.length ? rk.map((k) => k + ": " + rej[k]).join(", ") : "0");

    fill("blocks-found", found.slice().reverse().map((b) => {
      const tr = foundRow(b);
      if (!seenBlocks.has(b.hash)) { seenBlocks.add(b.hash); tr.className = "new"; }
      return tr;
    }), "none yet", 4);

    fill("workers", workers.map((w) => el("tr", {}, [el("td", { textContent: w.name }), el("td", { textContent: rate(w.hashrate) }),
      el("td", { textContent: num(w.accepted) }), el("td", { textContent: num(w.rejected) }), el("td", { textContent: num(w.difficulty) })])),
      "no workers connected", 5);

    text("cl-master", cl.master || "–");
    text("cl-fw", cl.framework_id || "–");
    fill("agents", (cl.agents || []).map((a) => el("tr", {}, [el("td", { textContent: a.hostname || a.id, title: a.id }),
      el("td", { textContent: a.resources }), el("td", { textContent: a.used })])), "no agents", 3);
    fill("tasks", (cl.tasks || []).map((t) => el("tr", {}, [el("td", { textContent: t.id, className: "mono" }), el("td", { textContent: t.role }),
      el("td", {}, [el("span", { className: "state " + t.state, textContent: (t.state || "").replace("TASK_", "") })].concat(
        t.message && t.state !== "TASK_RUNNING" ? [el("div", { className: "task-msg", textContent: t.message })] : [])),
      el("td", { textContent: t.healthy === undefined || t.healthy === null ? "–" : t.healthy ? "healthy" : "unhealthy" })])), "no tasks", 4);

    text("ch-net", ch.network || "–");
    text("ch-best", ch.best_hash || "–");
    fill("recent", (ch.recent || []).map((b) => el("tr", {}, [el("td", { textContent: num(b.height) }), el("td", { className: "hash" }, [blockLink(b.hash)]),
      el("td", { textContent: b.time ? new Date(b.time).toLocaleTimeString() : "" })])), "", 3);

    const errs = s.errors || {};
    const ek = Object.keys(errs);
    $("errors-card").hidden = ek.length === 0;
    $("errors").replaceChildren(...ek.map((k) => el("li", { textContent: k + ": " + errs[k] })));
  }

  function draw() {
    const c = $("chart");
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, h = c.clientHeight || 220;
    c.width = w * dpr; c.height = h * dpr;
    const g = c.getContext("2d");
    g.scale(dpr, dpr);
    g.clearRect(0, 0, w, h);
    if (history.length < 2) return;
    const names = new Set();
    history.forEach((p) => Object.keys(p.workers || {}).forEach((n) => names.add(n)));
    const series = [["total", (p) => p.total]].concat([...names].sort().map((n) => [n, (p) => (p.workers || {})[n] || 0]));
    let max = 0;
    history.forEach((p) => series.forEach(([, f]) => { max = Math.max(max, f(p)); }));
    if (max <= 0) max = 1;
    const left = 64, top = 8, bottom = 20, W = w - left - 8, H = h - top - bottom;
    g.strokeStyle = "#263040"; g.fillStyle = "#8b98a5"; g.font = "11px system-ui";
    for (let i = 0; i <= 4; i++) {
      const y = top + H - (H * i) / 4;
      g.beginPath(); g.moveTo(left, y); g.lineTo(left + W, y); g.stroke();
      g.fillText(rate((max * i) / 4), 2, y + 4);
    }
    const t0 = new Date(history[0].t).getTime(), t1 = new Date(history[history.length - 1].t).getTime();
    const span = Math.max(t1 - t0, 1);
    const legend = [];
    series.forEach(([name, f], i) => {
      const col = colors[i % colors.length];
      g.strokeStyle = col; g.lineWidth = name === "total" ? 2 : 1;
      g.beginPath();
      history.forEach((p, j) => {
        const x = left + (W * (new Date(p.t).getTime() - t0)) / span, y = top + H - (H * f(p)) / max;
        if (j === 0) g.moveTo(x, y); else g.lineTo(x, y);
      });
      g.stroke();
      legend.push(el("span", {}, [el("i", { style: "background:" + col }), name]));
    });
    $("legend").replaceChildren(...legend);
  }

  let updates = 0;
  function onSnapshot(msg) {
    updates++;
    document.body.dataset.updates = String(updates);
    render(msg.snapshot);
    history.push(msg.point);
    if (history.length > maxPoints) history = history.slice(-maxPoints);
    draw();
  }

  async function start() {
    try {
      const [s, h] = await Promise.all([fetch("/api/snapshot").then((r) => r.json()), fetch("/api/history").then((r) => r.json())]);
      history = (h || []).slice(-maxPoints);
      render(s);
      draw();
    } catch (e) { /* the stream below retries */ }
    const es = new EventSource("/api/events");
    es.addEventListener("open", () => { $("conn").className = "dot on"; });
    es.addEventListener("error", () => { $("conn").className = "dot off"; });
    es.addEventListener("snapshot", (ev) => onSnapshot(JSON.parse(ev.data)));
    window.addEventListener("resize", draw);
    $("found-older").addEventListener("click", loadOlder);
  }
  start();
})();
