// ingest_storage_enabled: false — one `-target=all` process on its embedded log: the log,
// the TSDB and (with the filesystem backend) the blocks on one volume, rings in memory.
local c = import 'common.libsonnet';

{
  local cfg = $._config,
  local on = !cfg.ingest_storage_enabled,
  local name = 'tidewell',

  tidewell_statefulset: if on then c.statefulSet(
    cfg, name, 'all', 1,
    c.podSpec(cfg, c.container(cfg, $._images, $.tidewell_args.common
                                               + $.tidewell_args.single_process,
                               cfg.resources.single_process),
              cfg.ingester_termination_grace_period_seconds),
    cfg.single_process_data_disk_size),
  tidewell_service: if on then c.service(cfg, name, { name: name }, cfg.http_port),
  tidewell_pdb: if on then c.pdb(cfg, name, { name: name }),
}
