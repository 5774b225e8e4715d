/**
 * The dashboard's script: it listens to `/api/events` (server-sent events) and puts each section's fresh
 * server-rendered HTML in place. No framework and nothing from a CDN; without it the page is a static report.
 */
export const DASHBOARD_SCRIPT = `'use strict';
(function () {
  var live = document.getElementById('live-state');
  if (!window.EventSource) return;
  var events = new EventSource('api/events');
  events.addEventListener('status', function (e) {
    var data = JSON.parse(e.data);
    Object.keys(data.sections).forEach(function (id) {
      var el = document.getElementById(id);
      if (el && el.innerHTML !== data.sections[id]) el.innerHTML = data.sections[id];
    });
    live.textContent = 'live, updated ' + new Date(data.status.now).toLocaleTimeString();
  });
  events.onerror = function () {
    live.textContent = 'disconnected (retrying); the pipeline may have stopped';
  };
})();
`;

export const DASHBOARD_CSS = `body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1rem 1.5rem;color:#1b1f24;background:#fff}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.4rem 0 .4rem;border-bottom:1px solid #d0d7de}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}dt{font-weight:600}dd{margin:0}
table{border-collapse:collapse;margin:.4rem 0}th,td{padding:.2rem .6rem;text-align:left;border-bottom:1px solid #eaeef2}
td{font-variant-numeric:tabular-nums}caption{text-align:left;font-weight:600}
progress{width:14rem;height:1rem}pre{background:#f6f8fa;padding:.8rem;overflow:auto;border-radius:4px}
.charts{display:flex;flex-wrap:wrap;gap:1.5rem}figure{margin:0}svg{background:#f6f8fa;border:1px solid #d0d7de}
polyline{stroke-width:2}polyline.in{stroke:#0550ae}polyline.out{stroke:#1a7f37}polyline.lag{stroke:#bc4c00}
figcaption{font-size:.85rem}a{color:#0550ae}code{font-size:.9em}
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}pre,svg{background:#161b22}a{color:#79c0ff}th,td{border-color:#30363d}}
`;
