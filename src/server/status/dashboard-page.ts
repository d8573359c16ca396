// GET /: the dashboard, one self-contained HTML page (inline CSS and JS, no build step, no CDN).
// It polls /status and /history and draws each client's backup size and new bytes as inline SVG.

// The page's script is plain ES2017 without template literals, so this TypeScript string needs no escaping.
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cpsbackup status</title>
<style>
  :root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --bg: #f5f7fa; --card: #ffffff;
          --ok: #2f8132; --running: #1f6fd1; --failed: #c62828; --overdue: #b7791f; --incomplete: #b7791f; --never: #7b8794;
          --size: #3366cc; --new: #f2a33a; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink); background: var(--bg); }
  header { display: flex; align-items: baseline; gap: 16px; padding: 16px 28px; background: #243b53; color: #fff; }
  header h1 { margin: 0; font-size: 20px; font-weight: 600; }
  header .meta { color: #bcccdc; font-size: 13px; }
  header .updated { margin-left: auto; color: #bcccdc; font-size: 12px; }
  main { padding: 20px 28px 40px; max-width: 1200px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin-bottom: 20px; }
  .card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
  .card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
  .card .value { font-size: 22px; font-weight: 600; margin-top: 2px; }
  h2 { font-size: 16px; margin: 24px 0 10px; }
  table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
  th, td { text-align: left; padding: 9px 12px; border-bottom: 1px solid var(--line); vertical-align: top; white-space: nowrap; }
  td.now { white-space: normal; width: 100%; }
  th { background: #f0f4f8; color: var(--muted); font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }
  td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
  tr:last-child td { border-bottom: none; }
  .state { display: inline-block; min-width: 72px; text-align: center; padding: 2px 10px; border-radius: 999px; color: #fff; font-size: 12px; font-weight: 600; }
  .state-ok { background: var(--ok); } .state-running { background: var(--running); } .state-failed { background: var(--failed); }
  .state-overdue { background: var(--overdue); } .state-never { background: var(--never); }
  .state-incomplete { background: var(--incomplete); }
  .flag { display: inline-block; margin-left: 6px; padding: 1px 7px; border-radius: 4px; background: #fde8e8; color: var(--failed); font-size: 11px; font-weight: 600; }
  .detail { color: var(--muted); font-size: 12px; }
  .reason { color: var(--failed); font-size: 12px; max-width: 420px; overflow-wrap: anywhere; }
  .progress { width: 120px; height: 6px; background: var(--line); border-radius: 3px; margin-top: 4px; overflow: hidden; }
  .progress div { height: 100%; width: 40%; background: var(--running); animation: slide 1.4s ease-in-out infinite; }
  @keyframes slide { from { transform: translateX(-100%); } to { transform: translateX(300%); } }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 14px; }
  .chart-card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px 6px; }
  .chart-card h3 { margin: 0 0 4px; font-size: 14px; }
  .legend { font-size: 12px; color: var(--muted); }
  .legend span { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 4px 0 10px; vertical-align: -1px; }
  svg.chart { width: 100%; height: auto; display: block; }
  svg.chart text { font-size: 11px; fill: var(--muted); font-family: inherit; }
  .empty { color: var(--muted); padding: 14px; }
  #error { display: none; background: #fde8e8; color: var(--failed); border: 1px solid #f8b4b4; padding: 10px 14px; border-radius: 8px; margin-bottom: 16px; }
</style>
</head>
<body>
<header><h1>cpsbackup</h1><span class="meta" id="server-meta">connecting…</span><span class="updated" id="updated"></span></header>
<main>
  <div id="error"></div>
  <section class="cards" id="cards"></section>
  <h2>Clients</h2>
  <table id="clients">
    <thead><tr><th>Client</th><th>State</th><th>Last backup</th><th class="number">Files</th><th class="number">Size</th>
      <th class="number">New</th><th class="number">Duration</th><th class="number">Kept</th><th>Now / last failure</th></tr></thead>
    <tbody></tbody>
  </table>
  <h2>Backup size over time</h2>
  <div class="charts" id="charts"></div>
</main>
<script>
(function () {
  'use strict';
  var tokenMatch = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  var headers = tokenMatch ? { Authorization: 'Bearer ' + decodeURIComponent(tokenMatch[1]) } : {};
  var SVG = 'http://www.w3.org/2000/svg';

  function bytes(value) {
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    var index = 0;
    while (value >= 1024 && index < units.length - 1) { value /= 1024; index++; }
    return (index === 0 ? String(Math.round(value)) : value.toFixed(value >= 100 ? 0 : 1)) + ' ' + units[index];
  }
  function duration(seconds) {
    if (seconds < 60) return (seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)) + ' s';
    if (seconds < 3600) return Math.round(seconds / 60) + ' min';
    if (seconds < 172800) return (seconds / 3600).toFixed(1) + ' h';
    return Math.round(seconds / 86400) + ' d';
  }
  // As status-text.ts stoppingStep: what a stopping server does now.
  function stoppingStep(stopping) {
    var calls = stopping.runningCalls + ' running call' + (stopping.runningCalls === 1 ? '' : 's');
    if (stopping.runningCalls === 0) return 'closing the store';
    return stopping.isCutting ? 'cutting ' + calls : 'waits for ' + calls + ' (stop_timeout)';
  }
  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function svgElement(tag, attributes) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attributes).forEach(function (key) { node.setAttribute(key, String(attributes[key])); });
    return node;
  }
  function getJson(path) {
    return fetch(path, { headers: headers, cache: 'no-store' }).then(function (response) {
      if (!response.ok) return response.json().then(function (body) { throw new Error(path + ': ' + (body.error || response.status)); });
      return response.json();
    });
  }

  function renderCards(status) {
    var store = status.store;
    var cards = [
      ['Clients', String(status.clients.length)],
      ['Backups kept', String(store.backups)],
      ['On disk', bytes(store.diskBytes)],
      ['Logical size', bytes(store.logicalBytes)],
      ['Dedup ratio', store.dedupRatio.toFixed(2) + '×'],
      ['Compression', store.compressionRatio.toFixed(2) + '×']
    ];
    var container = document.getElementById('cards');
    container.textContent = '';
    cards.forEach(function (card) {
      var node = element('div', 'card');
      node.appendChild(element('div', 'label', card[0]));
      node.appendChild(element('div', 'value', card[1]));
      container.appendChild(node);
    });
    document.getElementById('server-meta').textContent = 'version ' + status.version + ' · up ' + duration(status.uptimeSeconds)
      + (status.stopping ? ' · stopping: takes no new call, ' + stoppingStep(status.stopping) : '');
    document.getElementById('updated').textContent = 'updated ' + new Date(status.generatedAt).toLocaleTimeString();
  }

  function renderClients(status) {
    var body = document.querySelector('#clients tbody');
    body.textContent = '';
    if (status.clients.length === 0) {
      var row = element('tr');
      var cell = element('td', 'empty', 'No clients yet.');
      cell.colSpan = 9;
      row.appendChild(cell);
      body.appendChild(row);
      return;
    }
    status.clients.forEach(function (client) {
      var row = element('tr', 'client-row');
      row.setAttribute('data-client', client.name);
      row.setAttribute('data-state', client.state);
      row.appendChild(element('td', 'client-name', client.name));
      var stateCell = element('td');
      stateCell.appendChild(element('span', 'state state-' + client.state, client.state));
      if (client.anomaly && client.anomaly.isAnomalous) {
        var flag = element('span', 'flag anomaly', 'anomaly');
        flag.title = client.anomaly.reasons.join('\\n');
        stateCell.appendChild(flag);
      }
      row.appendChild(stateCell);
      var last = client.lastSuccess;
      var lastCell = element('td');
      if (last) {
        lastCell.appendChild(element('div', '', '#' + last.id + ' · ' + duration(last.ageSeconds) + ' ago'));
        lastCell.appendChild(element('div', 'detail', new Date(last.finishedAt).toLocaleString()));
      } else {
        lastCell.appendChild(element('span', 'detail', 'never'));
      }
      row.appendChild(lastCell);
      row.appendChild(element('td', 'number', last ? String(last.files) : '–'));
      row.appendChild(element('td', 'number', last ? bytes(last.bytes) : '–'));
      row.appendChild(element('td', 'number', last ? bytes(last.newBytes) : '–'));
      row.appendChild(element('td', 'number', last ? duration(last.durationSeconds) : '–'));
      row.appendChild(element('td', 'number', String(client.backupsKept)));
      var nowCell = element('td', 'now');
      if (client.running) {
        nowCell.appendChild(element('div', '', 'backing up: ' + client.running.files + ' files, ' + bytes(client.running.bytes) +
          ' at ' + bytes(client.running.rateBytesPerSecond) + '/s'));
        var bar = element('div', 'progress');
        bar.appendChild(element('div'));
        nowCell.appendChild(bar);
      }
      if (client.isOverdue) nowCell.appendChild(element('div', 'detail', 'overdue since ' + new Date(client.overdueSince).toLocaleString()));
      if (client.lastFailure) {
        nowCell.appendChild(element('div', 'reason', 'failed ' + duration(client.lastFailure.ageSeconds) + ' ago' +
          (client.lastFailure.reason === null ? ' (the reason needs the status token)' : ': ' + client.lastFailure.reason)));
      }
      if (!nowCell.firstChild) nowCell.appendChild(element('span', 'detail', '–'));
      row.appendChild(nowCell);
      body.appendChild(row);
    });
  }

  // Axis steps of 1, 2 or 5 in the unit the labels use (KiB, MiB, ...), so tick labels read round.
  function axisSteps(maximum) {
    var unit = 1;
    while (maximum / unit >= 1024) unit *= 1024;
    var rough = Math.max(maximum / unit / 4, 1e-9);
    var power = Math.pow(10, Math.floor(Math.log(rough) / Math.LN10));
    var step = [1, 2, 5, 10].map(function (factor) { return factor * power; }).filter(function (candidate) { return candidate >= rough; })[0];
    if (unit === 1) step = Math.max(1, Math.ceil(step));
    var count = Math.max(1, Math.ceil(maximum / unit / step));
    return { step: step * unit, count: count };
  }

  function drawChart(client) {
    var width = 560, height = 210, left = 64, right = 14, top = 12, bottom = 34;
    var plotWidth = width - left - right, plotHeight = height - top - bottom;
    var svg = svgElement('svg', { 'class': 'chart', viewBox: '0 0 ' + width + ' ' + height, role: 'img' });
    svg.setAttribute('data-client', client.name);
    svg.appendChild(svgElement('title', {})).textContent = 'Backup size and new bytes of ' + client.name;
    var backups = client.backups;
    var axis = axisSteps(Math.max.apply(null, backups.map(function (b) { return Math.max(b.bytes, b.newBytes); }).concat([1])));
    var maximum = axis.step * axis.count;
    var y = function (value) { return top + plotHeight - (value / maximum) * plotHeight; };
    var slot = plotWidth / Math.max(backups.length, 1);
    var x = function (index) { return left + slot * (index + 0.5); };
    for (var tick = 0; tick <= axis.count; tick++) {
      var value = axis.step * tick;
      svg.appendChild(svgElement('line', { x1: left, x2: width - right, y1: y(value), y2: y(value), stroke: tick === 0 ? '#9aa5b1' : '#e4e7eb', 'stroke-width': 1 }));
      var label = svgElement('text', { x: left - 8, y: y(value) + 4, 'text-anchor': 'end' });
      label.textContent = bytes(value);
      svg.appendChild(label);
    }
    // The tinted area first, so it never covers the bars drawn over it.
    var sizePoints = [];
    if (backups.length > 0) {
      sizePoints = backups.map(function (backup, index) { return x(index).toFixed(1) + ',' + y(backup.bytes).toFixed(1); });
      svg.appendChild(svgElement('polygon', { 'class': 'size-area', points: x(0).toFixed(1) + ',' + y(0) + ' ' + sizePoints.join(' ') + ' ' +
        x(backups.length - 1).toFixed(1) + ',' + y(0), fill: 'var(--size)', 'fill-opacity': 0.08 }));
    }
    var barWidth = Math.max(2, Math.min(28, slot * 0.5));
    backups.forEach(function (backup, index) {
      var bar = svgElement('rect', { 'class': 'new-bar', x: x(index) - barWidth / 2, y: y(backup.newBytes), width: barWidth,
        height: Math.max(0, top + plotHeight - y(backup.newBytes)), fill: 'var(--new)', rx: 2 });
      bar.appendChild(svgElement('title', {})).textContent = '#' + backup.id + ' new ' + bytes(backup.newBytes);
      svg.appendChild(bar);
    });
    if (backups.length > 0) {
      svg.appendChild(svgElement('polyline', { 'class': 'size-line', points: sizePoints.join(' '), fill: 'none', stroke: 'var(--size)', 'stroke-width': 2 }));
    }
    var labelEvery = Math.ceil(backups.length / 8);
    backups.forEach(function (backup, index) {
      var point = svgElement('circle', { 'class': backup.isAnomalous ? 'size-point anomalous' : 'size-point', cx: x(index), cy: y(backup.bytes),
        r: backup.isAnomalous ? 5 : 3.5, fill: backup.isAnomalous ? 'var(--failed)' : 'var(--size)', stroke: '#fff', 'stroke-width': 1.5 });
      point.appendChild(svgElement('title', {})).textContent = '#' + backup.id + ' ' + new Date(backup.finishedAt).toLocaleString() + ': ' +
        bytes(backup.bytes) + ', ' + backup.files + ' files' + (backup.isAnomalous ? ' (anomaly)' : '');
      svg.appendChild(point);
      if (index % labelEvery === 0 || index === backups.length - 1) {
        var label = svgElement('text', { x: x(index), y: height - bottom + 16, 'text-anchor': 'middle' });
        label.textContent = '#' + backup.id;
        svg.appendChild(label);
        var time = svgElement('text', { x: x(index), y: height - bottom + 29, 'text-anchor': 'middle' });
        time.textContent = new Date(backup.finishedAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
        svg.appendChild(time);
      }
    });
    return svg;
  }

  function renderCharts(history) {
    var container = document.getElementById('charts');
    container.textContent = '';
    if (history.clients.length === 0) {
      container.appendChild(element('div', 'empty', 'No backups yet.'));
      return;
    }
    history.clients.forEach(function (client) {
      var card = element('div', 'chart-card');
      card.appendChild(element('h3', '', client.name));
      var legend = element('div', 'legend');
      legend.innerHTML = '<span style="background: var(--size)"></span>backup size<span style="background: var(--new)"></span>new bytes' +
        '<span style="background: var(--failed); border-radius: 50%"></span>anomaly';
      card.appendChild(legend);
      card.appendChild(drawChart(client));
      container.appendChild(card);
    });
  }

  function refresh() {
    // Both fetches run at once, but a failure is reported in a fixed order (the status first):
    // when both are refused, which answer arrives first is chance, and the page must say one thing.
    var status = getJson('status');
    var history = getJson('history');
    history.catch(function () {});
    status.then(function (statusAnswer) {
      return history.then(function (historyAnswer) {
        document.getElementById('error').style.display = 'none';
        renderCards(statusAnswer);
        renderClients(statusAnswer);
        renderCharts(historyAnswer);
        document.body.setAttribute('data-loaded', 'true');
      });
    }).catch(function (error) {
      var box = document.getElementById('error');
      box.textContent = 'Cannot load the status: ' + error.message;
      box.style.display = 'block';
    });
  }
  refresh();
  setInterval(refresh, 5000);
})();
</script>
</body>
</html>
`;
