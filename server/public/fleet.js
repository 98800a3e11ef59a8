// The fleet page: one row per site × task from the fleet API, no framework and no build step,
// so the server ships the folder as it is and the page works on a machine without internet.
// The API paths are those of server/api-paths.ts (without the leading slash: resolved against
// the page's own address, the page also works behind a proxy that mounts it under a prefix).
// `<body data-state>` says loading | ready | empty | error: what the browser test and
// `gflow metrics screenshot` wait for (ready: the rows and every sparkline are drawn).

const API = {
  summary: 'api/metrics/summary',
  trend: 'api/metrics/trend',
  alerts: 'api/metrics/alerts',
  config: 'api/config',
};
/** The page's filters: the API's query parameters, and the page's own URL query (so a view can be linked). */
const FILTERS = ['customer', 'task'];
const TREND_METRIC = 'det.mAP50';
/** Most severe first, as the alerts route sorts them. */
const SEVERITIES = ['critical', 'warning', 'info'];

/** An answer the page cannot use: the API is down, or it refused the request. */
class ApiError extends Error {}

/** GET one API path with the given query parameters (empty ones left out); the parsed JSON body. */
async function getJson(path, params = {}) {
  const url = new URL(path, document.baseURI);
  for (const [key, value] of Object.entries(params)) if (value) url.searchParams.set(key, value);
  let response;
  try {
    response = await fetch(url, { headers: { accept: 'application/json' } });
  } catch (err) {
    throw new ApiError(`Cannot reach the fleet API at ${url.origin} (${err.message}). Is the server running?`);
  }
  if (!response.ok) {
    // the API's error body is `{ error, field? }` (server/responses.ts ErrorSchema)
    const body = await response.json().catch(() => null);
    throw new ApiError(`The fleet API answered ${response.status} for ${url.pathname}${body && body.error ? `: ${body.error}` : ''}`);
  }
  return response.json();
}

/** All answers, or the first failure in the order asked (not the first to arrive: the message stays the same each time). */
async function all(requests) {
  const settled = await Promise.allSettled(requests);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => r.value);
}

/** An element with attributes and children (strings become text: data never goes through innerHTML). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) if (value !== undefined && value !== null) node.setAttribute(key, value);
  node.append(...children.filter((c) => c !== undefined && c !== null));
  return node;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  node.append(...children);
  return node;
}

const fixed = (value, digits) => (value === undefined || value === null ? '–' : value.toFixed(digits));
const unique = (values) => [...new Set(values)].sort((a, b) => a.localeCompare(b));
const rowKey = (siteKey, task) => `${siteKey}\u0000${task}`;

function filterFromUrl() {
  const query = new URLSearchParams(window.location.search);
  return Object.fromEntries(FILTERS.map((name) => [name, query.get(name) ?? '']));
}

/** The filter into the address bar, so the view can be bookmarked or sent. */
function filterToUrl(filter) {
  const url = new URL(window.location.href);
  for (const name of FILTERS) {
    if (filter[name]) url.searchParams.set(name, filter[name]);
    else url.searchParams.delete(name);
  }
  if (url.href !== window.location.href) window.history.pushState(filter, '', url);
}

/** The options of a filter select: every value in the data, and the selected one even when the data has none of it. */
function fillSelect(select, values, selected) {
  const all = select.options[0];
  select.replaceChildren(all, ...unique(selected ? [...values, selected] : values).map((v) => el('option', { value: v }, v)));
  select.value = selected;
}

/** `{mlflowUrl}/#/runs/{runId}`: MLflow's direct run route finds the run's experiment itself. */
const mlflowRunUrl = (config, runId) => `${config.mlflowUrl}/#/runs/${encodeURIComponent(runId)}`;
const mlflowModelUrl = (config, name, version) => `${config.mlflowUrl}/#/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`;
/** The Temporal Web UI's workflow list of one site: the `GfSite` search attribute holds the site key. */
const temporalSiteUrl = (config, siteKey) =>
  `${config.temporalUiUrl}/namespaces/${encodeURIComponent(config.namespace)}/workflows?query=${encodeURIComponent(`GfSite="${siteKey}"`)}`;

const SPARK = { width: 120, height: 28, pad: 3 };

/**
 * The days' mean values as a line, placed by date and scaled to their own range (mAP50 moves in hundredths: a 0–1
 * scale would draw a flat line); champion days are dots. The values are in the title and label.
 */
function sparkline(days) {
  const { width, height, pad } = SPARK;
  const values = days.map((d) => d.mean);
  const low = Math.min(...values);
  const span = Math.max(...values) - low;
  const first = days[0].time;
  const range = days[days.length - 1].time - first;
  // by date, not by index: a week without runs shows as a gap
  const x = (i) => (range === 0 ? width / 2 : pad + ((days[i].time - first) / range) * (width - 2 * pad));
  // equal values (or one day) sit in the middle
  const y = (v) => (span === 0 ? height / 2 : height - pad - ((v - low) / span) * (height - 2 * pad));
  const points = days.map((d, i) => `${x(i).toFixed(1)},${y(d.mean).toFixed(1)}`).join(' ');
  const label = `${TREND_METRIC} per day: ${days.map((d) => `${d.day} ${d.mean.toFixed(3)}${d.champion ? ' (champion)' : ''}`).join(', ')}`;
  return svg(
    'svg',
    { class: 'spark', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label },
    svg('title', {}, label),
    svg('polyline', { points, fill: 'none' }),
    ...days.flatMap((d, i) => (d.champion ? [svg('circle', { cx: x(i).toFixed(1), cy: y(d.mean).toFixed(1), r: 2.5, class: 'champion' })] : [])),
    // a single day draws no line: a dot shows it
    ...(days.length === 1 && !days[0].champion ? [svg('circle', { cx: x(0).toFixed(1), cy: y(days[0].mean).toFixed(1), r: 2.5, class: 'only' })] : []),
  );
}

/** The open alerts of one row: their count and the worst severity, the messages on hover. */
function alertsCell(found) {
  if (found.length === 0) return el('td', { class: 'alerts none' }, '0');
  const worst = SEVERITIES.find((s) => found.some((a) => a.severity === s)) ?? found[0].severity;
  const detail = found.map((a) => `${a.severity} ${a.rule}: ${a.message}`).join('\n');
  return el('td', { class: 'alerts', title: detail }, el('span', { class: `badge ${worst}` }, `${found.length} ${worst}`));
}

function championCell(config, champion) {
  if (!champion) return el('td', { class: 'none' }, 'none');
  return el('td', {}, el('a', { href: mlflowModelUrl(config, champion.name, champion.version), title: `${champion.name} version ${champion.version} in the MLflow registry` }, `v${champion.version}`));
}

function linksCell(config, row) {
  const links = [];
  if (row.champion && row.champion.runId) links.push(el('a', { href: mlflowRunUrl(config, row.champion.runId), class: 'mlflow-run', title: 'the run that trained the champion' }, 'MLflow run'));
  if (row.champion && row.champion.measuredBy) links.push(el('a', { href: mlflowRunUrl(config, row.champion.measuredBy), class: 'mlflow-benchmark', title: 'the champion’s latest benchmark run' }, 'benchmark'));
  links.push(el('a', { href: temporalSiteUrl(config, row.siteKey), class: 'temporal', title: `workflows of ${row.siteKey} in the Temporal Web UI` }, 'workflows'));
  const cell = el('td', { class: 'links' });
  links.forEach((link, i) => cell.append(...(i > 0 ? [' · ', link] : [link])));
  return cell;
}

function renderRow(config, row, alertsOf) {
  const metrics = row.champion ? row.champion.metrics : {};
  return el(
    'tr',
    { 'data-site': row.siteKey, 'data-task': row.task },
    el('th', { scope: 'row' }, row.siteKey),
    el('td', {}, row.task),
    championCell(config, row.champion),
    el('td', { class: 'num map50' }, fixed(metrics['det.mAP50'], 3)),
    el('td', { class: 'num p95' }, fixed(metrics['sys.latency_ms_p95'], 1)),
    el('td', { class: 'trend', 'aria-busy': 'true' }, '…'),
    alertsCell(alertsOf(row.siteKey, row.task)),
    linksCell(config, row),
  );
}

/** Each row's mAP50 per day, one request per row, drawn as the answers come. */
async function fillTrends(rows, tbody, isCurrent) {
  await Promise.all(
    rows.map(async (row, i) => {
      let cell;
      try {
        const days = await getJson(API.trend, { site: row.siteKey, task: row.task, metric: TREND_METRIC, by: 'day' });
        if (!isCurrent()) return;
        cell = tbody.rows[i].cells[5];
        cell.replaceChildren(days.points.length > 0 ? sparkline(days.points) : 'no runs');
      } catch (err) {
        if (!isCurrent()) return;
        cell = tbody.rows[i].cells[5];
        cell.replaceChildren(el('span', { class: 'error', title: err.message }, 'unavailable'));
      }
      cell.removeAttribute('aria-busy');
    }),
  );
}

function describeFilter(filter) {
  const parts = [filter.customer && `customer ${filter.customer}`, filter.task && `task ${filter.task}`].filter(Boolean);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

function main() {
  const form = document.getElementById('filters');
  const selects = Object.fromEntries(FILTERS.map((name) => [name, document.getElementById(name)]));
  const status = document.getElementById('status');
  const table = document.getElementById('fleet');
  const tbody = table.tBodies[0];
  const caption = document.getElementById('caption');
  let config;
  /** Bumped on every filter change: answers for an older filter are dropped. */
  let generation = 0;

  const say = (text, isError = false) => {
    status.textContent = text;
    status.hidden = false;
    status.className = isError ? 'error' : '';
    status.setAttribute('role', isError ? 'alert' : 'status');
  };
  const fail = (err) => {
    table.hidden = true;
    say(err instanceof ApiError ? err.message : `The page failed: ${err.message}`, true);
    document.body.dataset.state = 'error';
  };

  async function show(filter) {
    const mine = ++generation;
    const isCurrent = () => mine === generation;
    say('Loading the fleet…');
    document.body.dataset.state = 'loading';
    try {
      const [rows, open] = await all([getJson(API.summary, filter), getJson(API.alerts, filter)]);
      if (!isCurrent()) return;
      const byRow = new Map();
      for (const alert of open) {
        const key = rowKey(alert.siteKey, alert.task);
        byRow.set(key, [...(byRow.get(key) ?? []), alert]);
      }
      tbody.replaceChildren(...rows.map((row) => renderRow(config, row, (site, task) => byRow.get(rowKey(site, task)) ?? [])));
      caption.textContent = `${rows.length} site task${rows.length === 1 ? '' : 's'}${describeFilter(filter)}`;
      table.hidden = rows.length === 0;
      if (rows.length === 0) say(filter.customer || filter.task ? `No site task matches${describeFilter(filter)}.` : 'No site has recorded a run yet: the fleet is empty.');
      else status.hidden = true;
      await fillTrends(rows, tbody, isCurrent);
      if (isCurrent()) document.body.dataset.state = rows.length === 0 ? 'empty' : 'ready';
    } catch (err) {
      if (isCurrent()) fail(err);
    }
  }

  const current = () => Object.fromEntries(FILTERS.map((name) => [name, selects[name].value]));
  form.addEventListener('submit', (event) => event.preventDefault());
  form.addEventListener('change', () => {
    const filter = current();
    filterToUrl(filter);
    void show(filter);
  });
  window.addEventListener('popstate', () => {
    const filter = filterFromUrl();
    for (const name of FILTERS) selects[name].value = filter[name];
    void show(filter);
  });

  (async () => {
    const filter = filterFromUrl();
    try {
      // the unfiltered summary fills the selects, so every customer and task stays choosable
      const [answered, everything] = await all([getJson(API.config), getJson(API.summary)]);
      config = answered;
      fillSelect(selects.customer, everything.map((r) => r.site.customer), filter.customer);
      fillSelect(selects.task, everything.map((r) => r.task), filter.task);
    } catch (err) {
      fail(err);
      return;
    }
    await show(filter);
  })();
}

main();
