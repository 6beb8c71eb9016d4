// Talking to Tidewell: the tenant header, Prometheus's JSON envelope, /metrics text.

let tenant = '';

export function setTenant(t) {
  tenant = t || '';
}

export function getTenant() {
  return tenant;
}

export function tenantHeaders() {
  const h = new Headers();
  if (tenant) h.set('X-Scope-OrgID', tenant);
  return h;
}

// A failed call: the API's own words (errorType, error) or the HTTP status and body.
export class APIError extends Error {
  constructor(status, errorType, message) {
    super(message);
    this.status = status;
    this.errorType = errorType;
  }
}

async function failure(resp) {
  const text = await resp.text();
  try {
    const body = JSON.parse(text);
    if (body && body.error) return new APIError(resp.status, body.errorType || '', body.error);
  } catch (_) {
    // not JSON: plain-text errors (Mimir's cardinality API, ring pages)
  }
  return new APIError(resp.status, '', text.trim() || `HTTP ${resp.status}`);
}

// GET or POST (form-encoded) a Prometheus-style API; the whole JSON body.
export async function call(path, params = {}, { method = 'GET', json = true } = {}) {
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    for (const one of Array.isArray(v) ? v : [v]) form.append(k, one);
  }
  let url = path;
  const init = { method, headers: tenantHeaders() };
  if (method === 'POST') {
    init.body = form;
  } else if ([...form].length) {
    url += (path.includes('?') ? '&' : '?') + form.toString();
  }
  if (json) init.headers.set('Accept', 'application/json');
  const resp = await fetch(url, init);
  if (!resp.ok) throw await failure(resp);
  return json ? resp.json() : resp.text();
}

// Prometheus text exposition format → [{name, labels, value}] (comments skipped).
export function parseMetrics(text) {
  const out = [];
  const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
  const pair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const l of text.split('\n')) {
    if (!l || l[0] === '#') continue;
    const m = line.exec(l);
    if (!m) continue;
    const labels = {};
    if (m[2]) for (const p of m[2].matchAll(pair)) labels[p[1]] = p[2].replace(/\\(.)/g, '$1');
    out.push({ name: m[1], labels, value: parseFloat(m[3]) });
  }
  return out;
}

export async function metrics() {
  return parseMetrics(await call('/metrics', {}, { json: false }));
}
