// Tidewell's web UI: a hash router over the query page, the cardinality page and the status
// pages; the tenant (X-Scope-OrgID) is chosen in the header when multi-tenancy is on. Every
// page's state is in the URL, so a link shows the same thing to someone else.
import 'uplot/dist/uPlot.min.css';
import './style.css';

import { call, setTenant } from './api.js';
import { cardinalityPage } from './cardinality.js';
import { el } from './dom.js';
import { queryPage } from './query.js';
import { STATUS_PAGES, statusPage } from './status.js';

function parseHash() {
  const raw = window.location.hash.replace(/^#\/?/, '');
  const [path, query] = raw.split('?');
  return { page: path || 'query', params: Object.fromEntries(new URLSearchParams(query || '')) };
}

function hashOf(page, params) {
  const p = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v !== undefined));
  const q = p.toString();
  return `#/${page}${q ? '?' + q : ''}`;
}

let current = null;

function setParams(page, params) {
  const { params: old } = parseHash();
  const merged = { ...params };
  if (old.tenant) merged.tenant = old.tenant;
  history.replaceState(null, '', hashOf(page, merged));
}

function render() {
  const { page, params } = parseHash();
  // Sent whenever known: a process without multi-tenancy ignores the header.
  setTenant(params.tenant || localStorage.getItem('tidewell.tenant') || '');
  for (const a of document.querySelectorAll('nav a')) {
    a.classList.toggle('active', a.dataset.page === page);
  }
  const root = document.getElementById('page');
  root.dataset.page = page;
  delete root.dataset.loaded;
  const save = (p) => setParams(page, p);
  if (page === 'query') current = queryPage(root, params, save);
  else if (page === 'cardinality') current = cardinalityPage(root, params, save);
  else if (STATUS_PAGES[page]) { current = null; statusPage(root, page); }
  else root.replaceChildren(el('p', {}, `No page ${page}.`));
}

function navLink(page, label) {
  return el('a', { href: `#/${page}`, 'data-page': page, onclick: (e) => {
    e.preventDefault();
    const { params } = parseHash();
    window.location.hash = hashOf(page, params.tenant ? { tenant: params.tenant } : {});
  } }, label);
}

async function main() {
  const tenantInput = el('input', { id: 'tenant', size: 14, placeholder: 'tenant',
    title: 'Tenant (X-Scope-OrgID)', onchange: () => {
      const t = tenantInput.value.trim();
      localStorage.setItem('tidewell.tenant', t);
      const { page, params } = parseHash();
      history.replaceState(null, '', hashOf(page, { ...params, tenant: t }));
      setTenant(t);
      if (current && current.setTenant) current.setTenant();
      if (page !== 'query') render();
    } });
  const { params } = parseHash();
  tenantInput.value = params.tenant || localStorage.getItem('tidewell.tenant') || '';
  document.getElementById('header').replaceChildren(
    el('a', { class: 'brand', href: '/' }, 'Tidewell'),
    el('nav', {}, navLink('query', 'Query'), navLink('cardinality', 'Cardinality'),
      ...Object.entries(STATUS_PAGES).map(([k, [label]]) => navLink(k, label))));
  window.addEventListener('hashchange', render);
  render();
  window.tidewellStats = { ...(window.tidewellStats || {}), firstRenderMs: performance.now() };
  // The tenant selector only when multi-tenancy is on (the page did not wait for this).
  try {
    const flags = await call('/api/v1/status/flags');
    if (flags.data['auth.multitenancy-enabled'] === 'true') {
      document.getElementById('header').append(el('label', { class: 'tenant' }, 'Tenant ', tenantInput));
    }
  } catch (_) {
    // no flags endpoint: no selector
  }
  document.body.dataset.ready = 'true';
}

main();
