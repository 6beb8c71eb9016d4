// The query page: PromQL editor (highlighting, autocompletion of metric and label names from
// our own API), range/end/step controls, graph and table tabs. Its state lives in the URL.
import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from '@codemirror/autocomplete';
import { defaultKeymap, history, historyKeymap, insertNewlineAndIndent } from '@codemirror/commands';
import { bracketMatching, defaultHighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { Compartment, EditorState } from '@codemirror/state';
import { EditorView, keymap, placeholder } from '@codemirror/view';
import { PromQLExtension } from '@prometheus-io/codemirror-promql';

import { call, tenantHeaders } from './api.js';
import { el, errorBox, labelsString, table } from './dom.js';
import { drawGraph } from './graph.js';

const RANGES = [['5m', 300], ['15m', 900], ['1h', 3600], ['3h', 10800], ['6h', 21600],
  ['12h', 43200], ['1d', 86400], ['7d', 604800]];

function promql() {
  // The completion client asks /prometheus/api/v1/{labels,label/…/values,series,metadata}
  // with the tenant header; rebuilt when the tenant changes.
  return new PromQLExtension().setComplete({
    remote: { url: `${window.location.origin}/prometheus`, httpMethod: 'GET',
      requestHeaders: tenantHeaders(), cache: { maxAge: 30000 } },
  }).asExtension();
}

// A step that gives ~250 points, rounded to whole seconds (Prometheus's UI does likewise).
export function defaultStep(rangeS) {
  return Math.max(1, Math.round(rangeS / 250));
}

export function queryPage(root, params, setParams) {
  const language = new Compartment();
  let tab = params.tab === 'table' ? 'table' : 'graph';
  const rangeSel = el('select', { id: 'range', title: 'Range' },
    RANGES.map(([label, s]) => el('option', { value: s }, label)));
  rangeSel.value = String(params.range || 3600);
  if (!rangeSel.value) rangeSel.value = '3600';
  const endInput = el('input', { id: 'end', type: 'datetime-local', step: 1,
    title: 'End time (UTC); empty = now' });
  if (params.end) endInput.value = new Date(Number(params.end) * 1000).toISOString().slice(0, 19);
  const stepInput = el('input', { id: 'step', type: 'number', min: 1, placeholder: 'auto',
    title: 'Resolution step (seconds)', value: params.step || '' });
  const runBtn = el('button', { id: 'run', class: 'primary', onclick: () => run() }, 'Execute');
  const graphTab = el('button', { id: 'tab-graph', class: 'tab', onclick: () => switchTab('graph') },
    'Graph');
  const tableTab = el('button', { id: 'tab-table', class: 'tab', onclick: () => switchTab('table') },
    'Table');
  const messages = el('div', { id: 'messages' });
  const output = el('div', { id: 'output' });
  const status = el('span', { id: 'query-status', class: 'muted' });
  const editorBox = el('div', { id: 'expr', class: 'editor' });

  root.replaceChildren(
    el('div', { class: 'query-row' }, editorBox, runBtn),
    el('div', { class: 'controls' },
      el('label', {}, 'Range ', rangeSel), el('label', {}, 'End ', endInput),
      el('label', {}, 'Step ', stepInput), status),
    el('div', { class: 'tabs' }, graphTab, tableTab),
    messages, output);

  const view = new EditorView({
    parent: editorBox,
    state: EditorState.create({
      doc: params.q || '',
      extensions: [
        history(), closeBrackets(), bracketMatching(), autocompletion(),
        syntaxHighlighting(defaultHighlightStyle), placeholder('Expression (press Enter to execute, Shift+Enter for a new line)'),
        keymap.of([{ key: 'Enter', run: () => { run(); return true; } },
          { key: 'Shift-Enter', run: insertNewlineAndIndent },
          ...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...completionKeymap]),
        language.of(promql()), EditorView.lineWrapping,
      ],
    }),
  });
  window.tidewellEditor = view; // for tests and the console

  function endSeconds() {
    return endInput.value ? Date.parse(endInput.value + 'Z') / 1000 : Date.now() / 1000;
  }

  function save() {
    setParams({ q: view.state.doc.toString(), tab, range: rangeSel.value,
      end: endInput.value ? String(endSeconds()) : '', step: stepInput.value });
  }

  function switchTab(t) {
    tab = t;
    graphTab.classList.toggle('active', t === 'graph');
    tableTab.classList.toggle('active', t === 'table');
    save();
    if (view.state.doc.length) run();
    else output.replaceChildren();
  }

  function showMessages(body) {
    for (const w of body.warnings || []) messages.append(el('div', { class: 'alert warning' }, w));
    for (const i of body.infos || []) messages.append(el('div', { class: 'alert info' }, i));
  }

  let seq = 0;
  async function run() {
    const q = view.state.doc.toString().trim();
    save();
    messages.replaceChildren();
    if (!q) return;
    const mine = ++seq;
    status.textContent = 'Loading…';
    const t0 = performance.now();
    try {
      const end = endSeconds();
      if (tab === 'graph') {
        const range = Number(rangeSel.value);
        const step = Number(stepInput.value) || defaultStep(range);
        const start = Math.floor((end - range) / step) * step;
        const endAligned = Math.floor(end / step) * step;
        const body = await call('/prometheus/api/v1/query_range',
          { query: q, start, end: endAligned, step }, { method: 'POST' });
        if (mine !== seq) return;
        showMessages(body);
        const fetched = performance.now() - t0;
        if (body.data.resultType !== 'matrix') {
          output.replaceChildren(el('div', { class: 'alert info' },
            `The result is a ${body.data.resultType}: see the table.`));
        } else {
          const box = el('div', { id: 'graph' });
          output.replaceChildren(box);
          drawGraph(box, body.data.result, start, endAligned, step, labelsString);
        }
        status.textContent = `${body.data.result.length} series · fetched in ${fetched.toFixed(0)} ms · shown in ${(performance.now() - t0).toFixed(0)} ms`;
      } else {
        const body = await call('/prometheus/api/v1/query', { query: q, time: end },
          { method: 'POST' });
        if (mine !== seq) return;
        showMessages(body);
        output.replaceChildren(resultTable(body.data));
        status.textContent = `${resultCount(body.data)} result(s) in ${(performance.now() - t0).toFixed(0)} ms`;
      }
    } catch (err) {
      if (mine !== seq) return;
      status.textContent = '';
      output.replaceChildren();
      messages.replaceChildren(errorBox(err));
      messages.firstChild.id = 'error';
    }
  }

  switchTab(tab);
  return {
    setTenant() {
      view.dispatch({ effects: language.reconfigure(promql()) });
    },
  };
}

function resultCount(data) {
  return Array.isArray(data.result) && data.resultType !== 'scalar' && data.resultType !== 'string'
    ? data.result.length : 1;
}

function resultTable(data) {
  const t = data.resultType;
  if (t === 'scalar' || t === 'string') {
    return table(['Value'], [[String(data.result[1])]], { id: 'table' });
  }
  if (t === 'vector') {
    return table(['Series', 'Value'], data.result.map((s) => [labelsString(s.metric),
      s.value ? s.value[1] : JSON.stringify(s.histogram[1])]), { id: 'table' });
  }
  return table(['Series', 'Values'], data.result.map((s) => [labelsString(s.metric),
    (s.values || []).map(([ts, v]) => `${v} @${ts}`).join('\n')]), { id: 'table' });
}
