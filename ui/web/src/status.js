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
    const [mine, all] = await Promise.all([
      call('/runtime_config', { tenant: t, format: 'json' }),
      call('/runtime_config', { mode: 'diff', format: 'json' })]);
    const overridden = Object.keys(all.overrides || {});
    return [
      el('h2', {}, `Limits of tenant ${t}`),
      table(['Limit', 'Value'], Object.entries(mine.limits).map(([k, v]) => [k, String(v)]),
        { id: 'runtime-config' }),
      el('h2', {}, 'Tenants with overrides'),
      overridden.length
        ? table(['Tenant', 'Overrides'], overridden.map((k) => [k, JSON.stringify(all.overrides[k])]))
        : el('p', { class: 'muted' }, 'None: every tenant has the defaults.'),
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
    const tenants = await optional('/store-gateway/tenants');
    if (!tenants) return [missing('Store-gateway')];
    const out = [el('h2', {}, 'Blocks loaded, per tenant')];
    const rows = [];
    for (const t of tenants.tenants) {
      const b = await call(`/store-gateway/tenant/${encodeURIComponent(t)}/blocks`);
      for (const blk of b.blocks) rows.push([t, blk.block_id, fmtTime(blk.min_time), fmtTime(blk.max_time)]);
      if (!b.blocks.length) rows.push([t, '—', '', '']);
    }
    out.push(rows.length ? table(['Tenant', 'Block', 'Min time', 'Max time'], rows, { id: 'blocks' })
      : el('p', { id: 'blocks', class: 'muted' }, 'No blocks loaded yet (blocks are cut every 2 h).'));
    return out;
  }],
  compactor: ['Compactor', async () => {
    const ms = (await metrics()).filter((m) => m.name.startsWith('cortex_compactor_'));
    if (!ms.length) return [missing('Compactor')];
    const ring = await optional('/compactor/ring', { format: 'json' });
    const rows = ms.map((m) => [m.name.replace('cortex_compactor_', ''),
      Object.entries(m.labels).map(([k, v]) => `${k}=${v}`).join(', '),
      m.name.endsWith('timestamp_seconds') && m.value ? fmtTime(m.value * 1000) : m.value]);
    return [el('h2', {}, 'Compaction runs and jobs'), table(['Metric', 'Labels', 'Value'], rows, { id: 'compactor' }),
      el('h2', {}, 'Compactor ring'),
      ring ? table(['Instance', 'State', 'Address'], ring.shards.map((s) => [s.id, s.state, s.address]))
        : missing('Compactor ring')];
  }],
  ingest: ['Ingest rates', async () => {
    const first = await metrics();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 1000));
    const second = await metrics();
    const dt = (performance.now() - t0) / 1000;
    const rate = (name, label) => {
      const a = byLabel(first, name, label);
      const b = byLabel(second, name, label);
      return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, [v, (v - (a[k] || 0)) / dt]]));
    };
    const received = rate('cortex_distributor_received_samples_total', 'user');
    const discarded = {};
    for (const m of second.filter((x) => x.name === 'cortex_discarded_samples_total')) {
      (discarded[m.labels.user] ||= []).push(`${m.labels.reason}: ${m.value}`);
    }
    const tenants = [...new Set([...Object.keys(received), ...Object.keys(discarded)])].sort();
    return [el('h2', {}, 'Samples per tenant'),
      tenants.length ? table(['Tenant', 'Received (total)', 'Received /s', 'Rejected (by reason)'],
        tenants.map((t) => [t, received[t]?.[0] ?? 0, (received[t]?.[1] ?? 0).toFixed(1),
          (discarded[t] || []).join(', ') || '—']), { id: 'ingest' })
        : el('p', { id: 'ingest', class: 'muted' }, 'No samples received by this process yet.')];
  }],
};

export function statusPage(root, name) {
  const page = STATUS_PAGES[name];
  guarded(root, page[1]);
}
