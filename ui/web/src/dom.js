// Small DOM helpers: elements, tables, messages.

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// A table: columns are header strings, rows arrays of cells (strings, numbers or nodes).
export function table(columns, rows, attrs = {}) {
  return el('table', { class: 'data', ...attrs },
    el('thead', {}, el('tr', {}, columns.map((c) => el('th', {}, c)))),
    el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c) => el('td', {}, c))))));
}

export function errorBox(err) {
  const kind = err.errorType ? `${err.errorType}: ` : err.status ? `HTTP ${err.status}: ` : '';
  return el('div', { class: 'alert error', role: 'alert' }, kind + err.message);
}

export function labelsString(metric) {
  const name = metric.__name__ || '';
  const rest = Object.entries(metric).filter(([k]) => k !== '__name__')
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return rest.length ? `${name}{${rest.join(', ')}}` : name || '{}';
}

export function fmtTime(ms) {
  if (ms === null || ms === undefined || Math.abs(ms) > 8.64e15) return '—';
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}
