(function () {
  'use strict';
  const body = document.body;
  let errorCount = 0;
  const countError = function () { errorCount++; body.setAttribute('data-console-errors', String(errorCount)); };
  const consoleError = console.error.bind(console);
  console.error = function () { countError(); consoleError.apply(null, arguments); };
  window.addEventListener('error', countError);

  const D = JSON.parse(document.getElementById('hpsim-data').textContent);
  const main = document.getElementById('main');
  const SVGNS = 'http://www.w3.org/2000/svg';
  const drawn = [];

  // --- small helpers -------------------------------------------------------------------------------------------
  function h(tag, attrs, parent, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function s(tag, attrs, parent, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function tip(e, text) { s('title', {}, e, text); return e; }
  function num(x, digits) {
    if (x === null || x === undefined || !isFinite(x)) return '–';
    const d = digits === undefined ? 3 : digits;
    if (x !== 0 && d >= 3 && Math.abs(x) < Math.pow(10, -d)) return x.toExponential(1);
    return Number(x.toFixed(d)).toString();
  }
  const GIB = 1024 * 1024 * 1024;
  const gib = function (b) { return b / GIB; };
  function linear(d0, d1, r0, r1) {
    const span = (d1 - d0) || 1;
    return function (x) { return r0 + (x - d0) / span * (r1 - r0); };
  }
  function niceTicks(lo, hi, count) {
    if (!(hi > lo)) hi = lo + 1;
    const raw = (hi - lo) / (count || 6);
    let step = Math.pow(10, Math.floor(Math.log10(raw)));
    const err = raw / step;
    if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
    const ticks = [];
    for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
    return ticks;
  }
  function niceMax(x) { const t = niceTicks(0, x > 0 ? x : 1, 6); return Math.max(t[t.length - 1], x); }
  function logTicks(lo, hi) {
    const ticks = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
      for (const m of [1, 2, 5]) { const t = m * Math.pow(10, e); if (t >= lo * 0.999 && t <= hi * 1.001) ticks.push(t); }
    return ticks;
  }
  function section(title, text) {
    h('h2', {}, main, title);
    if (text) h('p', { class: 'note' }, main, text);
  }
  function figure(id, title, caption) {
    const f = h('figure', { class: 'chart', id: 'chart-' + id, 'data-chart': id, 'data-marks': '0' }, main);
    h('h3', {}, f, title);
    if (caption) h('p', { class: 'caption' }, f, caption);
    return f;
  }
  function chartSvg(fig, width, height, label) {
    return s('svg', { viewBox: '0 0 ' + width + ' ' + height, width: width, height: height, role: 'img',
                      'aria-label': label }, fig);
  }
  function legend(fig, items) {
    const div = h('div', { class: 'legend' }, fig);
    for (const it of items) {
      const span = h('span', {}, div);
      h('span', { class: 'sw', style: 'background:' + it[1] + (it[2] ? ';' + it[2] : '') }, span);
      span.appendChild(document.createTextNode(it[0]));
    }
    return div;
  }
  // Horizontal axis at y from x0 to x1 with gridlines up to yTop.
  function xAxis(svg, scale, ticks, y, yTop, label, x0, x1, fmt) {
    const g = s('g', { class: 'axis' }, svg);
    const grid = s('g', { class: 'grid' }, svg);
    svg.insertBefore(grid, svg.firstChild);
    s('line', { x1: x0, x2: x1, y1: y, y2: y }, g);
    for (const t of ticks) {
      const x = scale(t);
      s('line', { x1: x, x2: x, y1: y, y2: y + 5 }, g);
      s('line', { x1: x, x2: x, y1: yTop, y2: y }, grid);
      s('text', { x: x, y: y + 18, 'text-anchor': 'middle' }, g, fmt ? fmt(t) : num(t));
    }
    s('text', { x: (x0 + x1) / 2, y: y + 36, 'text-anchor': 'middle', 'font-weight': '600' }, g, label);
  }
  function yAxis(svg, scale, ticks, x, xRight, label, y0, y1, fmt) {
    const g = s('g', { class: 'axis' }, svg);
    const grid = s('g', { class: 'grid' }, svg);
    svg.insertBefore(grid, svg.firstChild);
    s('line', { x1: x, x2: x, y1: y0, y2: y1 }, g);
    for (const t of ticks) {
      const y = scale(t);
      s('line', { x1: x - 5, x2: x, y1: y, y2: y }, g);
      s('line', { x1: x, x2: xRight, y1: y, y2: y }, grid);
      s('text', { x: x - 8, y: y + 4, 'text-anchor': 'end' }, g, fmt ? fmt(t) : num(t));
    }
    s('text', { transform: 'translate(' + (x - 52) + ',' + ((y0 + y1) / 2) + ') rotate(-90)', 'text-anchor': 'middle',
                'font-weight': '600' }, g, label);
  }
  function table(parent, header, rows, classes) {
    const t = h('table', {}, parent);
    const tr = h('tr', {}, h('thead', {}, t));
    header.forEach(function (c, j) {
      h('th', classes && classes.length && classes[0][j] === 'text' ? { class: 'text' } : {}, tr, c);
    });
    const tb = h('tbody', {}, t);
    rows.forEach(function (r, i) {
      const row = h('tr', {}, tb);
      r.forEach(function (c, j) { h('td', classes && classes[i] && classes[i][j] ? { class: classes[i][j] } : {}, row, c); });
    });
    return t;
  }
  function guarded(name, fn) {
    try { fn(); drawn.push(name); } catch (e) { console.error('chart ' + name + ': ' + (e && e.stack ? e.stack : e)); }
  }

  // --- colours ---------------------------------------------------------------------------------------------------
  const CAT_COLOR = { compute: '#4e79a7', recompute: '#a0cbe8', tp_comm: '#f28e2b', cp_comm: '#ffbe7d',
                      ep_comm: '#8cd17d', pp_comm: '#e15759', dp_comm: '#59a14f', optimizer: '#b07aa1',
                      other: '#9d7660' };
  const BREAKDOWN = [['compute', 'compute (incl. recompute)', '#4e79a7'], ['tp_comm_exposed', 'TP comm exposed', '#f28e2b'],
                     ['cp_comm_exposed', 'CP comm exposed', '#ffbe7d'], ['ep_comm_exposed', 'EP comm exposed', '#8cd17d'],
                     ['pp_bubble', 'PP bubble (idle)', '#bab0ac'], ['pp_comm_exposed', 'PP comm exposed', '#e15759'],
                     ['dp_comm_exposed', 'DP comm exposed', '#59a14f'], ['other', 'other (optimizer)', '#b07aa1']];
  const MEMORY = [['weights_bytes', 'weights', '#4e79a7'], ['gradients_bytes', 'gradients', '#f28e2b'],
                  ['optimizer_bytes', 'optimizer states', '#59a14f'], ['activations_bytes', 'activations', '#e15759'],
                  ['buffers_bytes', 'buffers', '#bab0ac']];
  const SET_COLORS = ['#4e79a7', '#e15759', '#59a14f', '#f28e2b', '#b07aa1', '#76b7b2', '#edc948', '#9d7660'];

  // --- charts ----------------------------------------------------------------------------------------------------
  function drawTimeline(T) {
    const fig = figure('timeline', T.title || 'Simulated step: timeline per rank and stream',
      'Each box is one task of the simulated step (a forward or backward pass of one micro-batch, a collective, a '
      + 'send); its colour is what its time counts as. Rows: simulated ranks (one per pipeline stage unless all '
      + 'ranks are simulated), one row per stream. Hover a box for its name and times.'
      + (T.shown_ranks < T.total_ranks ? ' Showing the first ' + T.shown_ranks + ' of ' + T.total_ranks + ' simulated ranks.' : ''));
    const rows = [];
    T.ranks.forEach(function (r) {
      const used = [];
      for (const t of r.tasks) if (used.indexOf(t[0]) < 0) used.push(t[0]);
      used.sort(function (a, b) { return a - b; });
      used.forEach(function (st, i) { rows.push({ rank: r, stream: st, first: i === 0, last: i === used.length - 1 }); });
    });
    const W = 1320, left = 210, right = 20, top = 10, rowH = 15, gap = 7;
    let y = top;
    for (const row of rows) { row.y = y; y += rowH + (row.last ? gap : 1); }
    const H = y + 50;
    const svg = chartSvg(fig, W, H, 'timeline of the simulated step');
    const end = Math.max(T.step_time_us, 1);
    const useMs = end < 2e6;
    const unit = useMs ? 1e3 : 1e6;
    const x = linear(0, end / unit, left, W - right);
    xAxis(svg, x, niceTicks(0, end / unit, 10), y + 2, top, 'time within the step (' + (useMs ? 'ms' : 's') + ')',
          left, W - right);
    let marks = 0;
    const catsUsed = {};
    for (const row of rows) {
      if (row.first) s('text', { x: 6, y: row.y + rowH - 3, 'font-weight': '600' }, svg, row.rank.name);
      s('text', { x: left - 8, y: row.y + rowH - 3, 'text-anchor': 'end', class: 'muted' }, svg, T.streams[row.stream]);
      s('rect', { x: left, y: row.y, width: W - right - left, height: rowH, fill: '#f6f8fa' }, svg);
      const g = s('g', {}, svg);
      for (const t of row.rank.tasks) {
        if (t[0] !== row.stream) continue;
        const cat = T.categories[t[1]];
        catsUsed[cat] = true;
        const x0 = x(t[2] / unit), w = Math.max(x(t[2] / unit + t[3] / unit) - x0, 0.6);
        tip(s('rect', { x: x0, y: row.y, width: w, height: rowH, fill: CAT_COLOR[cat] || '#999' }, g),
            T.labels[t[4]] + ' (' + cat + '): ' + num(t[2] / 1e3, 3) + ' to ' + num((t[2] + t[3]) / 1e3, 3) + ' ms');
        marks++;
      }
    }
    legend(fig, Object.keys(CAT_COLOR).filter(function (c) { return catsUsed[c]; })
                      .map(function (c) { return [c.replace('_', ' '), CAT_COLOR[c]]; }));
    fig.setAttribute('data-marks', String(marks));
  }

  function barLabel(p) { return '#' + p.rank + '  ' + p.label; }

  function stackedBars(id, title, caption, plans, parts, valueOf, axisLabel, limitOf, limitLabel) {
    const fig = figure(id, title, caption);
    const W = 1320, left = 430, right = 90, top = 8, barH = 20, gap = 8;
    const H = top + plans.length * (barH + gap) + 50;
    const svg = chartSvg(fig, W, H, title);
    let max = 0;
    for (const p of plans) {
      let total = 0;
      for (const part of parts) total += valueOf(p, part[0]);
      max = Math.max(max, total, limitOf ? limitOf(p) : 0);
    }
    max = niceMax(max);
    const x = linear(0, max, left, W - right);
    const yEnd = top + plans.length * (barH + gap);
    xAxis(svg, x, niceTicks(0, max, 8), yEnd, top, axisLabel, left, W - right);
    let marks = 0;
    plans.forEach(function (p, i) {
      const y = top + i * (barH + gap);
      s('text', { x: left - 8, y: y + barH - 5, 'text-anchor': 'end' }, svg, barLabel(p));
      let acc = 0;
      for (const part of parts) {
        const v = valueOf(p, part[0]);
        if (!(v > 0)) continue;
        tip(s('rect', { x: x(acc), y: y, width: Math.max(x(acc + v) - x(acc), 0.5), height: barH, fill: part[2] }, svg),
            barLabel(p) + ': ' + part[1] + ' ' + num(v, 3));
        acc += v;
        marks++;
      }
      s('text', { x: x(acc) + 6, y: y + barH - 5, class: 'muted' }, svg, num(acc, 2));
      if (limitOf) {
        const lx = x(limitOf(p));
        s('line', { x1: lx, x2: lx, y1: y - 3, y2: y + barH + 3, stroke: '#cf222e', 'stroke-width': 2,
                    'stroke-dasharray': '4 2' }, svg);
      }
    });
    const items = parts.map(function (p) { return [p[1], p[2]]; });
    if (limitOf) items.push([limitLabel, '#cf222e', 'height:3px;vertical-align:3px']);
    legend(fig, items);
    fig.setAttribute('data-marks', String(marks));
  }

  function drawScatter(plans) {
    const fig = figure('scatter', 'Step time vs memory per GPU',
      'Each point is one plan of the table (numbered by rank); the best is ringed. Lower is faster, further left '
      + 'leaves more memory free.');
    const W = 1320, H = 420, left = 90, right = 30, top = 16, bottom = 56;
    const svg = chartSvg(fig, W, H, 'step time versus memory');
    const mem = plans.map(function (p) { return gib(p.memory.peak_bytes_per_gpu); });
    const t = plans.map(function (p) { return p.step_time_s; });
    const usable = gib(plans[0].memory.usable_bytes);
    let mlo = Math.min.apply(null, mem.concat([usable])), mhi = Math.max.apply(null, mem.concat([usable]));
    let tlo = Math.min.apply(null, t), thi = Math.max.apply(null, t);
    const mpad = (mhi - mlo) * 0.08 || 1, tpad = (thi - tlo) * 0.12 || thi * 0.05 || 1;
    mlo = Math.max(0, mlo - mpad); mhi += mpad; tlo = Math.max(0, tlo - tpad); thi += tpad;
    const mt = niceTicks(mlo, mhi, 8), tt = niceTicks(tlo, thi, 6);
    mlo = Math.min(mlo, mt[0]); mhi = Math.max(mhi, mt[mt.length - 1]);
    tlo = Math.min(tlo, tt[0]); thi = Math.max(thi, tt[tt.length - 1]);
    const x = linear(mlo, mhi, left, W - right), y = linear(tlo, thi, H - bottom, top);
    xAxis(svg, x, mt, H - bottom, top, 'peak memory per GPU (GiB)', left, W - right);
    yAxis(svg, y, tt, left, W - right, 'step time (s)', top, H - bottom);
    const ux = x(usable);
    s('line', { x1: ux, x2: ux, y1: top, y2: H - bottom, stroke: '#cf222e', 'stroke-dasharray': '5 3' }, svg);
    s('text', { x: ux - 6, y: top + 12, 'text-anchor': 'end', fill: '#cf222e' }, svg, 'usable HBM ' + num(usable, 1) + ' GiB');
    let marks = 0;
    const isBest = function (p) { return p.best !== undefined ? p.best : p.rank === 1; };
    plans.slice().reverse().forEach(function (p) {
      const best = isBest(p);
      const cx = x(gib(p.memory.peak_bytes_per_gpu)), cy = y(p.step_time_s);
      const c = s('circle', { cx: cx, cy: cy, r: best ? 8 : 6, fill: best ? '#e15759' : '#4e79a7',
                              'fill-opacity': 0.85, stroke: best ? '#1f2328' : '#ffffff', 'stroke-width': 1.5 }, svg);
      tip(c, barLabel(p) + ': ' + num(p.step_time_s, 3) + ' s, ' + num(gib(p.memory.peak_bytes_per_gpu), 1) + ' GiB');
      s('text', { x: cx + 9, y: cy - 6, 'font-size': 11 }, svg, String(p.rank));
      marks++;
    });
    legend(fig, [['best plan', '#e15759'], ['other plans', '#4e79a7'], ['usable HBM per GPU', '#cf222e', 'height:3px;vertical-align:3px']]);
    fig.setAttribute('data-marks', String(marks));
  }

  function drawPlans(plans) {
    section('Plans', D.plans_caption || '');
    const fig = figure('plans-table', 'The plans', null);
    // Layers per pipeline stage, when some plan splits them unevenly (pp*vpp not dividing the layers).
    const uneven = plans.some(function (p) { return p.pipeline_split && !p.pipeline_split.even; });
    const rows = plans.map(function (p) {
      const row = [String(p.rank), p.label, num(p.step_time_s, 3), Math.round(p.tokens_per_s).toLocaleString('en-US'),
                   num(p.mfu * 100, 1), num(gib(p.memory.peak_bytes_per_gpu), 1), p.memory.fits ? 'yes' : 'NO'];
      if (uneven) row.splice(2, 0, p.pipeline_split.even ? 'even' : p.pipeline_split.layers_per_stage.join(' '));
      return row;
    });
    const header = ['rank', 'plan', 'step time (s)', 'tokens/s', 'MFU %', 'memory (GiB)', 'fits'];
    if (uneven) header.splice(2, 0, 'layers per stage');
    table(fig, header, rows, rows.map(function () { return uneven ? [null, 'text', 'text'] : [null, 'text']; }));
    fig.setAttribute('data-marks', String(rows.length));
    guarded('breakdown', function () {
      stackedBars('breakdown', 'Where the step time goes',
        'The slowest rank\'s step split into compute and what it waits for (exposed communication, pipeline bubble); '
        + 'the parts add up to the step time (number at the bar\'s end).',
        plans, BREAKDOWN, function (p, k) { return p.breakdown_s[k]; }, 'time per training step (s)');
    });
    guarded('memory', function () {
      stackedBars('memory', 'Memory per GPU by kind',
        'On the fullest pipeline stage; the dashed line is the usable HBM (capacity less the reserve).',
        plans, MEMORY, function (p, k) { return gib(p.memory[k]); }, 'memory per GPU (GiB)',
        function (p) { return gib(p.memory.usable_bytes); }, 'usable HBM');
    });
    guarded('scatter', function () { drawScatter(plans); });
  }

  // --train-tokens: each plan's whole run (days, cost, checkpoints, goodput, stragglers; docs/whole_run.md).
  function drawWholeRun(plans) {
    section('Whole run', D.whole_run_caption || '');
    const fig = figure('whole-run', 'Time to train', null);
    const days = function (d) { return d === null || d === undefined ? '-' : num(d, 1); };
    const rows = plans.filter(function (p) { return p.whole_run; }).map(function (p) {
      const w = p.whole_run;
      const st = w.stragglers;
      return [String(p.rank), p.label, days(w.days), days(w.days_p50) + ' / ' + days(w.days_p90),
              w.cost === null ? '-' : num(w.cost / 1e6, 3), num(w.checkpoint_interval_s / 60, 1),
              num(w.expected_interruptions, 0), num(w.goodput * 100, 1),
              num(w.straggler_loss * 100, 1) + (st ? ' (' + st.method + ')' : ''),
              st ? num(st.p50_step_s, 3) + ' / ' + num(st.p99_step_s, 3) : '-'];
    });
    table(fig, ['rank', 'plan', 'days', 'p50 / p90 days', 'cost $M', 'checkpoint every (min)', 'interruptions',
                'goodput %', 'straggler loss %', 'step p50 / p99 (s)'], rows,
          rows.map(function () { return [null, 'text']; }));
    fig.setAttribute('data-marks', String(rows.length));
  }

  function drawAccuracy(sets) {
    section('Accuracy', 'hpsim\'s predicted step time beside each measured run; error = (predicted − measured) / '
      + 'measured. MAPE: mean absolute percentage error; Kendall τ: rank agreement within groups of the same model '
      + 'and GPU count (1 = same order).');
    const fig = figure('accuracy-table', 'Accuracy per data set', null);
    const hasBase = sets.some(function (a) { return a.baseline; });
    const header = ['data set', 'answered', 'refused', 'MAPE %', 'max |error| %', 'Kendall τ'];
    if (hasBase) header.push('MAPE Δ (points)', 'max Δ (points)', 'status');
    const classes = [];
    const rows = sets.map(function (a) {
      const refusedCount = (a.refused || []).length;
      const none = a.cases.length === 0;  // every case refused: no error to average
      const r = [a.name, String(a.cases.length), String(refusedCount), none ? '–' : num(a.mape * 100, 2),
                 none ? '–' : num(a.max_abs_error * 100, 2),
                 a.mean_kendall_tau === null || a.mean_kendall_tau === undefined ? '–' : num(a.mean_kendall_tau, 3)];
      const c = [null, null, refusedCount > 0 ? 'bad' : null, null, null, null];
      if (hasBase) {
        const b = a.baseline;
        const d = function (v) { return (v >= 0 ? '+' : '') + v.toFixed(2); };
        r.push(b ? d((a.mape - b.mape) * 100) : 'new', b ? d((a.max_abs_error - b.max_abs_error) * 100) : 'new',
               a.status || '');
        c.push(null, null, a.status === 'regressed' ? 'bad' : 'good');
      }
      classes.push(c);
      return r;
    });
    table(fig, header, rows, classes);
    fig.setAttribute('data-marks', String(rows.length));
    const refusedRows = [];
    sets.forEach(function (a) {
      (a.refused || []).forEach(function (r) { refusedRows.push([a.name, r.id, r.reason]); });
    });
    if (refusedRows.length) {
      const rf = figure('refused-table', 'Cases hpsim cannot express yet (excluded from MAPE)', null);
      table(rf, ['data set', 'case', 'why'], refusedRows,
            refusedRows.map(function () { return ['text', 'text', 'text']; }));
      rf.setAttribute('data-marks', String(refusedRows.length));
    }

    guarded('accuracy', function () {
      const f = figure('accuracy', 'Predicted vs measured step time',
        'Log–log; the solid line is a perfect prediction, the dashed lines ±10 %. Hover a point for its run.');
      const W = 1320, H = 560, left = 90, right = 30, top = 16, bottom = 56;
      const svg = chartSvg(f, W, H, 'predicted versus measured step time');
      const all = [];
      sets.forEach(function (a) { a.cases.forEach(function (c) { all.push(c.predicted_step_time_s, c.measured_step_time_s); }); });
      const positive = all.filter(function (v) { return v > 0; });
      let lo = Math.min.apply(null, positive) / 1.25, hi = Math.max.apply(null, positive) * 1.25;
      const ticks = logTicks(lo, hi);
      const lx = linear(Math.log10(lo), Math.log10(hi), left, W - right);
      const ly = linear(Math.log10(lo), Math.log10(hi), H - bottom, top);
      const x = function (v) { return lx(Math.log10(v)); }, y = function (v) { return ly(Math.log10(v)); };
      xAxis(svg, x, ticks, H - bottom, top, 'measured step time (s)', left, W - right);
      yAxis(svg, y, ticks, left, W - right, 'predicted step time (s)', top, H - bottom);
      s('line', { x1: x(lo), y1: y(lo), x2: x(hi), y2: y(hi), stroke: '#1f2328', 'stroke-width': 1 }, svg);
      for (const k of [0.9, 1.1])
        s('line', { x1: x(lo), y1: y(lo * k), x2: x(hi), y2: y(hi * k), stroke: '#8c959f', 'stroke-dasharray': '5 4' }, svg);
      let marks = 0;
      const items = [];
      sets.forEach(function (a, i) {
        const color = SET_COLORS[i % SET_COLORS.length];
        items.push([a.name + ' (' + a.cases.length + ' runs)', color]);
        for (const c of a.cases) {
          if (!(c.predicted_step_time_s > 0 && c.measured_step_time_s > 0)) continue;
          tip(s('circle', { cx: x(c.measured_step_time_s), cy: y(c.predicted_step_time_s), r: 4.5, fill: color,
                            'fill-opacity': 0.8, stroke: '#ffffff', 'stroke-width': 0.8 }, svg),
              a.name + ' / ' + c.id + ': predicted ' + num(c.predicted_step_time_s, 3) + ' s, measured '
              + num(c.measured_step_time_s, 3) + ' s (' + (c.error >= 0 ? '+' : '') + num(c.error * 100, 1) + ' %)');
          marks++;
        }
      });
      items.push(['perfect prediction', '#1f2328', 'height:2px;vertical-align:4px'], ['±10 %', '#8c959f', 'height:2px;vertical-align:4px']);
      legend(f, items);
      f.setAttribute('data-marks', String(marks));
    });
  }

  function drawSpeed(S) {
    section('Speed', S.note || '');
    const fig = figure('speed-table', 'Benchmarks against the baseline', null);
    const ratio = function (v) {
      if (v === null || v === undefined) return '–';
      return v >= 1000 ? Math.round(v).toLocaleString('en-US') : Number(v.toPrecision(4)).toString();
    };
    const pct = function (v) { return v === null || v === undefined ? '–' : (v >= 0 ? '+' : '') + (v * 100).toFixed(1) + ' %'; };
    const classes = [];
    const rows = S.benchmarks.map(function (b) {
      classes.push([null, null, null, null, null, null, b.status === 'regressed' ? 'bad' : (b.status === 'ok' ? 'good' : null)]);
      return [b.name, ratio(b.ratio), b.baseline_ratio === null ? '–' : ratio(b.baseline_ratio), pct(b.change),
              b.band_low === null ? '–' : pct(b.band_low) + ' … ' + pct(b.band_high), String(b.repetitions), b.status];
    });
    table(fig, ['benchmark', 'time / calibration', 'baseline', 'median change', 'noise band', 'repetitions', 'status'],
          rows, classes);
    fig.setAttribute('data-marks', String(rows.length));
    const compared = S.benchmarks.filter(function (b) { return b.change !== null && b.change !== undefined; });
    if (!compared.length) return;
    guarded('speed', function () {
      const f = figure('speed', 'Change of each benchmark against the baseline',
        'Median time relative to the calibration benchmark ' + S.calibration + ', against the same ratio in the '
        + 'baseline; the whisker is the band over this run\'s repetitions. Right of zero is slower; a regression is '
        + 'a whole band right of the threshold (' + num(S.threshold * 100, 0) + ' %).');
      const W = 1320, left = 360, right = 40, top = 8, barH = 14, gap = 6;
      const H = top + compared.length * (barH + gap) + 50;
      const svg = chartSvg(f, W, H, 'benchmark changes');
      let lo = -0.3, hi = S.threshold * 1.6;
      for (const b of compared) { lo = Math.min(lo, b.band_low); hi = Math.max(hi, b.band_high); }
      lo = Math.max(lo, -1);
      hi = Math.min(hi, 4);
      const ticks = niceTicks(lo * 100, hi * 100, 10);
      lo = Math.min(lo, ticks[0] / 100); hi = Math.max(hi, ticks[ticks.length - 1] / 100);
      const x = linear(lo * 100, hi * 100, left, W - right);
      const yEnd = top + compared.length * (barH + gap);
      xAxis(svg, x, ticks, yEnd, top, 'change of median time relative to the calibration benchmark (%)', left, W - right,
            function (t) { return (t > 0 ? '+' : '') + num(t, 0); });
      let marks = 0;
      const clamp = function (v) { return Math.min(Math.max(v, lo), hi) * 100; };
      compared.forEach(function (b, i) {
        const y = top + i * (barH + gap);
        s('text', { x: left - 8, y: y + barH - 3, 'text-anchor': 'end' }, svg, b.name);
        const a = x(0), e = x(clamp(b.change));
        const color = b.status === 'regressed' ? '#cf222e' : (b.change > 0 ? '#f28e2b' : '#59a14f');
        tip(s('rect', { x: Math.min(a, e), y: y, width: Math.max(Math.abs(e - a), 1), height: barH, fill: color }, svg),
            b.name + ': ' + pct(b.change) + ' (band ' + pct(b.band_low) + ' … ' + pct(b.band_high) + ')');
        const wl = x(clamp(b.band_low)), wh = x(clamp(b.band_high)), cy = y + barH / 2;
        s('line', { x1: wl, x2: wh, y1: cy, y2: cy, stroke: '#1f2328', 'stroke-width': 1.2 }, svg);
        s('line', { x1: wl, x2: wl, y1: cy - 4, y2: cy + 4, stroke: '#1f2328' }, svg);
        s('line', { x1: wh, x2: wh, y1: cy - 4, y2: cy + 4, stroke: '#1f2328' }, svg);
        marks++;
      });
      const tx = x(S.threshold * 100);
      s('line', { x1: tx, x2: tx, y1: top, y2: yEnd, stroke: '#cf222e', 'stroke-dasharray': '5 3', 'stroke-width': 1.5 }, svg);
      s('line', { x1: x(0), x2: x(0), y1: top, y2: yEnd, stroke: '#1f2328' }, svg);
      legend(f, [['faster', '#59a14f'], ['slower, within threshold', '#f28e2b'], ['regressed', '#cf222e'],
                 ['threshold', '#cf222e', 'height:3px;vertical-align:3px'], ['noise band (repetitions)', '#1f2328', 'height:2px;vertical-align:4px']]);
      f.setAttribute('data-marks', String(marks));
    });
  }

  // --- the page --------------------------------------------------------------------------------------------------
  document.getElementById('page-title').textContent = D.title || 'hpsim report';
  document.getElementById('page-subtitle').textContent = D.subtitle || '';
  if (D.summary) h('p', { id: 'summary' }, main, D.summary);
  if (D.timeline && D.timeline.ranks && D.timeline.ranks.length) {
    section('Simulated step', D.timeline_caption || '');
    guarded('timeline', function () { drawTimeline(D.timeline); });
  }
  if (D.plans && D.plans.length) guarded('plans-table', function () { drawPlans(D.plans); });
  if (D.plans && D.plans.some(function (p) { return p.whole_run; }))
    guarded('whole-run', function () { drawWholeRun(D.plans); });
  if (D.speed && D.speed.benchmarks && D.speed.benchmarks.length) guarded('speed-table', function () { drawSpeed(D.speed); });
  if (D.accuracy && D.accuracy.length) guarded('accuracy-table', function () { drawAccuracy(D.accuracy); });
  h('p', { class: 'note' }, main, 'Written by hpsim. Self-contained: no network access, nothing loaded from elsewhere.');
  body.setAttribute('data-charts', drawn.join(' '));
  body.setAttribute('data-ready', '1');
})();
