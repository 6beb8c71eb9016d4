// ingest_storage_enabled: true — Mimir 3's ingest storage architecture as microservices.
local c = import 'common.libsonnet';

{
  local cfg = $._config,
  local on = cfg.ingest_storage_enabled,
  local args = $.tidewell_args,
  local grace = cfg.termination_grace_period_seconds,
  local tw(target_args, resources) =
    c.container(cfg, $._images, args.common + target_args, resources),
  local zoneName(zone) = 'ingester-' + zone,

  // Distributors: stateless, behind one Service that remote-write clients use.
  distributor_deployment: if on then c.deployment(
    cfg, 'distributor', 'distributor', cfg.distributor_replicas,
    c.podSpec(cfg, tw(args.distributor, cfg.resources.distributor), grace, data=false)),
  distributor_service: if on then
    c.service(cfg, 'distributor', { name: 'distributor' }, cfg.http_port),
  // Headless: `tidewell tool verify --distributor dns+distributor-headless…` finds each pod.
  distributor_headless_service: if on then
    c.service(cfg, 'distributor-headless', { name: 'distributor' }, cfg.http_port, headless=true),
  distributor_pdb: if on then c.pdb(cfg, 'distributor', { name: 'distributor' }),

  // Ingesters: one StatefulSet per zone; pod ingester-zone-a-<n> owns partition <n>.
  ingester_statefulsets: if on then {
    [zoneName(zone)]: c.statefulSet(
      cfg, zoneName(zone), 'ingester', cfg.ingester_replicas_per_zone,
      c.podSpec(cfg, tw(args.ingester(zone), cfg.resources.ingester),
                cfg.ingester_termination_grace_period_seconds),
      cfg.ingester_data_disk_size, serviceName=zoneName(zone),
      extraLabels={ 'tidewell.io/zone': zone, 'tidewell.io/ingester': 'true' })
    for zone in cfg.ingester_zones
  },
  ingester_services: if on then {
    [zoneName(zone)]: c.service(cfg, zoneName(zone), { name: zoneName(zone) }, cfg.http_port,
                                headless=true)
    for zone in cfg.ingester_zones
  },
  // One budget over all zones: a voluntary disruption never takes two copies of a partition.
  ingester_pdb: if on then c.pdb(cfg, 'ingester', { 'tidewell.io/ingester': 'true' }),

  store_gateway_statefulset: if on then c.statefulSet(
    cfg, 'store-gateway', 'store-gateway', cfg.store_gateway_replicas,
    c.podSpec(cfg, tw(args.store_gateway, cfg.resources.store_gateway), grace),
    cfg.store_gateway_data_disk_size),
  store_gateway_service: if on then
    c.service(cfg, 'store-gateway', { name: 'store-gateway' }, cfg.http_port, headless=true),
  store_gateway_pdb: if on then c.pdb(cfg, 'store-gateway', { name: 'store-gateway' }),

  querier_deployment: if on then c.deployment(
    cfg, 'querier', 'querier', cfg.querier_replicas,
    c.podSpec(cfg, tw(args.querier, cfg.resources.querier), grace, data=false)),
  querier_service: if on then c.service(cfg, 'querier', { name: 'querier' }, cfg.http_port),
  querier_pdb: if on then c.pdb(cfg, 'querier', { name: 'querier' }),

  query_frontend_deployment: if on then c.deployment(
    cfg, 'query-frontend', 'query-frontend', cfg.query_frontend_replicas,
    c.podSpec(cfg, tw(args.query_frontend, cfg.resources.query_frontend), grace, data=false)),
  query_frontend_service: if on then
    c.service(cfg, 'query-frontend', { name: 'query-frontend' }, cfg.http_port),
  query_frontend_pdb: if on then c.pdb(cfg, 'query-frontend', { name: 'query-frontend' }),

  compactor_statefulset: if on then c.statefulSet(
    cfg, 'compactor', 'compactor', cfg.compactor_replicas,
    c.podSpec(cfg, tw(args.compactor, cfg.resources.compactor), grace),
    cfg.compactor_data_disk_size),
  compactor_service: if on then
    c.service(cfg, 'compactor', { name: 'compactor' }, cfg.http_port, headless=true),
  compactor_pdb: if on then c.pdb(cfg, 'compactor', { name: 'compactor' }),
}
