// Status pages: each reads an endpoint the process already serves and shows it as tables.
import { call, getTenant, metrics } from './api.js';
import { el, errorBox, fmtTime, table } from './dom.js';

async function guarded(root, fn) {
  root.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
  try {
    const nodes = await fn();
    root.replaceChildren(...nodes);
  } catch (err) {
    root.replaceChildren(errorBox(err));
  }
  root.dataset.loaded = 'true';
}

function missing(what) {
  return el('p', { class: 'muted' }, `${what}: not served by this process.`);
}

async function optional(path, params) {
  try {
    return await call(path, params);
  } catch (err) {
    if (err.status === 404) return null;
    throw err;
  }
}

const sum = (xs) => xs.reduce((a, b) => a + b, 0);

function byLabel(ms, name, label) {
  const out = {};
  for (const m of ms) {
    if (m.name !== name) continue;
    const k = m.labels[label] ?? '';
    out[k] = (out[k] || 0) + m.value;
  }
  return out;
}

export const STATUS_PAGES = {
  buildinfo: ['Build info & flags', async () => {
    const [info, flags] = await Promise.all([call('/api/v1/status/buildinfo'),
      call('/api/v1/status/flags')]);
    const d = info.data;
    return [
      el('h2', {}, 'Build information'),
      table(['Field', 'Value'], [['application', d.application], ['version', d.version],
        ['revision', d.revision || '—'], ['runtime', d.goVersion],
        ['features', JSON.stringify(d.features)]], { id: 'buildinfo' }),
      el('h2', {}, 'Flags'),
      table(['Flag', 'Value'], Object.entries(flags.data).sort().map(([k, v]) => [`-${k}`, v]),
        { id: 'flags' }),
    ];
  }],
  runtime: ['Runtime config', async () => {
    const t = getTenant() || 'anonymous';
    const [mine, diff] = await Promise.all([
      call('/runtime_config', { tenant: t, format: 'json' }),
      call('/runtime_config', { tenant: t, mode: 'diff', format: 'json' })]);
    const overridden = Object.entries(diff.limits || {});
    return [
      el('h2', {}, `Limits of tenant ${t}`),
      table(['Limit', 'Value'], Object.entries(mine.limits).map(([k, v]) => [k, String(v)]),
        { id: 'runtime-config' }),
      el('h2', {}, `Overrides of tenant ${t}`),
      overridden.length
        ? table(['Limit', 'Override'], overridden.map(([k, v]) => [k, JSON.stringify(v)]),
          { id: 'runtime-overrides' })
        : el('p', { id: 'runtime-overrides', class: 'muted' }, 'None: this tenant has the defaults.'),
    ];
  }],
  services: ['Services', async () => {
    const states = await call('/services');
    return [table(['Service', 'State'], Object.entries(states).map(([k, v]) => [k,
      el('span', { class: v === 'Running' ? 'ok' : 'bad' }, v)]), { id: 'services' })];
  }],
  rings: ['Partitions & lag', async () => {
    const [parts, ingesters, ms] = await Promise.all([
      optional('/ingester/partition-ring', { format: 'json' }),
      optional('/ingester/ring', { format: 'json' }), metrics()]);
    const consumed = byLabel(ms, 'cortex_ingest_storage_reader_last_consumed_offset', 'partition');
    const committed = byLabel(ms, 'cortex_ingest_storage_reader_last_committed_offset', 'partition');
    const delaySum = sum(ms.filter((m) => m.name === 'cortex_ingest_storage_reader_receive_delay_seconds_sum').map((m) => m.value));
    const delayCount = sum(ms.filter((m) => m.name === 'cortex_ingest_storage_reader_receive_delay_seconds_count').map((m) => m.value));
    const out = [el('h2', {}, 'Partition ring')];
    out.push(parts ? table(['Partition', 'State', 'Owners', 'Last consumed offset', 'Last committed offset'],
      parts.partitions.map((p) => [p.id, p.state, p.owner_ids.join(', '),
        consumed[p.id] ?? '—', committed[p.id] ?? '—']), { id: 'partitions' })
      : missing('Partition ring'));
    out.push(el('p', {}, `Mean delay from produce to consume (this process): ${delayCount ? (1000 * delaySum / delayCount).toFixed(1) + ' ms' : '—'} over ${delayCount} records.`));
    out.push(el('h2', {}, 'Ingester ring'));
    out.push(ingesters ? table(['Instance', 'Zone', 'State', 'Address', 'Heartbeat age (s)'],
      ingesters.shards.map((s) => [s.id, s.zone, s.state, s.address, s.heartbeat_age_seconds]),
      { id: 'ingesters' }) : missing('Ingester ring'));
    return out;
  }],
  blocks: ['Store-gateway blocks', async () => {
    const b = await optional('/ui/api/v1/blocks');
    if (!b) return [missing('Store-gateway')];
    return [el('h2', {}, `Blocks loaded for tenant ${b.tenant}`),
      b.blocks.length
        ? table(['Block', 'Min time', 'Max time'], b.blocks.map((blk) => [blk.block_id,
          fmtTime(blk.min_time), fmtTime(blk.max_time)]), { id: 'blocks' })
        : el('p', { id: 'blocks', class: 'muted' }, 'No blocks loaded yet (blocks are cut every 2 h).')];
  }],
  compactor: ['Compactor', async () => {
    const jobs = await optional('/compactor/jobs');
    if (!jobs) return [missing('Compactor')];
    const ms = (await metrics()).filter((m) => m.name.startsWith('cortex_compactor_'));
    const ring = await optional('/compactor/ring', { format: 'json' });
    const span = (j) => `${fmtTime(j.min_time)} – ${fmtTime(j.max_time)}`;
    const jobRows = [
      ...jobs.planned.map((j) => ['planned' + (j.owned ? '' : ' (another compactor)'), j.stage,
        span(j), j.blocks.length, j.key, '']),
      ...jobs.running.map((j) => [j.state, j.stage, span(j), j.blocks.length, j.key,
        `started ${fmtTime(j.started_at * 1000)}`]),
      ...jobs.finished.map((j) => [j.state, j.stage, span(j), j.blocks.length, j.key,
        `${fmtTime(j.ended_at * 1000)}${j.error ? ': ' + j.error : ''}`]),
    ];
    const rows = ms.map((m) => [m.name.replace('cortex_compactor_', ''),
      Object.entries(m.labels).map(([k, v]) => `${k}=${v}`).join(', '),
      m.name.endsWith('timestamp_seconds') && m.value ? fmtTime(m.value * 1000) : m.value]);
    return [el('h2', {}, `Jobs of tenant ${jobs.tenant}`),
      jobRows.length ? table(['State', 'Stage', 'Time range', 'Input blocks', 'Job', 'When'],
        jobRows, { id: 'compactor-jobs' })
        : el('p', { id: 'compactor-jobs', class: 'muted' }, 'No jobs planned, running or finished.'),
      el('h2', {}, 'Compaction runs (all tenants)'), table(['Metric', 'Labels', 'Value'], rows, { id: 'compactor' }),
      el('h2', {}, 'Compactor ring'),
      ring ? table(['Instance', 'State', 'Address'], ring.shards.map((s) => [s.id, s.state, s.address]))
        : missing('Compactor ring')];
  }],
  ingest: ['Ingest rates', async () => {
    const first = await call('/ui/api/v1/ingest');
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 1000));
    const second = await call('/ui/api/v1/ingest');
    const dt = (performance.now() - t0) / 1000;
    const rate = (k) => ((second[k] - first[k]) / dt).toFixed(1);
    const reasons = (k) => Object.entries(second[k]).sort().map(([r, n]) => `${r}: ${n}`).join(', ') || '—';
    return [el('h2', {}, `Received and rejected by this process for tenant ${second.tenant}`),
      table(['', 'Received (total)', 'Received /s', 'Rejected (by reason)'], [
        ['Samples', second.received_samples, rate('received_samples'), reasons('discarded_samples')],
        ['Exemplars', second.received_exemplars, rate('received_exemplars'), reasons('discarded_exemplars')],
      ], { id: 'ingest' })];
  }],
};

export function statusPage(root, name) {
  const page = STATUS_PAGES[name];
  guarded(root, page[1]);
}
