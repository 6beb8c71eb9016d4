// The cardinality page: "what is using my series?" — Prometheus's TSDB status and Mimir's
// label-names / label-values cardinality of the current tenant, with a selector.
import { call } from './api.js';
import { el, errorBox, table } from './dom.js';

function statTable(title, id, items) {
  return [el('h3', {}, title), table(['Name', 'Count'], items.map((s) => [s.name, s.value]), { id })];
}

export function cardinalityPage(root, params, setParams) {
  const selector = el('input', { id: 'card-selector', size: 50, placeholder: '{job="api"} (optional)',
    value: params.selector || '' });
  const label = el('input', { id: 'card-label', size: 20, placeholder: 'label name, e.g. job',
    value: params.label || '' });
  const out = el('div', { id: 'cardinality' });
  const go = el('button', { id: 'card-run', class: 'primary', onclick: () => load() }, 'Analyse');
  root.replaceChildren(el('div', { class: 'controls' },
    el('label', {}, 'Selector ', selector), el('label', {}, 'Label values of ', label), go), out);

  async function load() {
    setParams({ selector: selector.value, label: label.value });
    out.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
    const nodes = [];
    try {
      const tsdb = await call('/prometheus/api/v1/status/tsdb', { limit: 10 });
      const d = tsdb.data;
      nodes.push(el('h2', {}, 'Head'), table(['Series', 'Label pairs', 'Chunks'],
        [[d.headStats.numSeries, d.headStats.numLabelPairs, d.headStats.chunkCount]], { id: 'head-stats' }),
      ...statTable('Top series count by metric name', 'by-metric', d.seriesCountByMetricName),
      ...statTable('Top label names by value count', 'by-label', d.labelValueCountByLabelName),
      ...statTable('Top label-value pairs by series count', 'by-pair', d.seriesCountByLabelValuePair),
      ...statTable('Top label names by memory (bytes)', 'by-memory', d.memoryInBytesByLabelName));
    } catch (err) {
      nodes.push(errorBox(err));
    }
    try {
      const names = await call('/prometheus/api/v1/cardinality/label_names',
        { selector: selector.value, limit: 20 });
      nodes.push(el('h2', {}, `Label names (${names.label_names_count}, ${names.label_values_count_total} values)`),
        table(['Label', 'Distinct values'], names.cardinality.map((c) => [
          el('a', { href: '#', onclick: (e) => { e.preventDefault(); label.value = c.label_name; load(); } },
            c.label_name), c.label_values_count]), { id: 'label-names' }));
      if (label.value) {
        const vals = await call('/prometheus/api/v1/cardinality/label_values',
          { 'label_names[]': label.value, selector: selector.value, limit: 20 });
        for (const l of vals.labels) {
          nodes.push(el('h2', {}, `Values of ${l.label_name} (${l.label_values_count} values, ${l.series_count} of ${vals.series_count_total} series)`),
            table(['Value', 'Series'], l.cardinality.map((c) => [c.label_value, c.series_count]),
              { id: 'label-values' }));
        }
      }
    } catch (err) {
      nodes.push(el('h2', {}, 'Label names'), errorBox(err));
    }
    out.replaceChildren(...nodes);
    out.dataset.loaded = 'true';
  }

  load();
}
