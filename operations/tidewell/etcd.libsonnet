// A single-node etcd for the rings (ingest storage only; the single process keeps its rings
// in memory). Production may point `_config.etcd_endpoints` at its own etcd instead.
local c = import 'common.libsonnet';

{
  local cfg = $._config,
  local on = cfg.ingest_storage_enabled && cfg.etcd_enabled,
  local url = 'http://0.0.0.0:2379',

  etcd_statefulset: if on then c.statefulSet(cfg, 'etcd', 'etcd', 1, {
    securityContext: { runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001 },
    containers: [{
      name: 'etcd',
      image: $._images.etcd,
      command: ['etcd', '--name=etcd', '--data-dir=/var/lib/etcd',
                '--listen-client-urls=' + url,
                '--advertise-client-urls=http://etcd.%(namespace)s.svc.%(cluster_domain)s:2379' % cfg],
      ports: [{ name: 'client', containerPort: 2379 }],
      readinessProbe: { httpGet: { path: '/health', port: 'client' }, periodSeconds: 10 },
      resources: cfg.resources.etcd,
      securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false },
      volumeMounts: [{ name: 'data', mountPath: '/var/lib/etcd' }],
    }],
  }, '10Gi'),
  etcd_service: if on then c.service(cfg, 'etcd', { name: 'etcd' }, 2379),
}
