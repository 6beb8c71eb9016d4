// Tidewell on Kubernetes. Use it as Mimir's operations/mimir:
//
//   (import 'tidewell/tidewell.libsonnet') + {
//     _config+:: { namespace: 'metrics', ingest_storage_enabled: true },
//   }
//
// Every visible field is one Kubernetes object. Which ones exist follows
// `_config.ingest_storage_enabled` (each component file guards its own fields).
local c = import 'common.libsonnet';

(import 'config.libsonnet')
+ (import 'single-process.libsonnet')
+ (import 'ingest-storage.libsonnet')
+ (import 'etcd.libsonnet')
+ {
  config_map: {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: c.metadata('tidewell-config', $._config.namespace,
                         { 'app.kubernetes.io/name': 'tidewell' }),
    data: { 'tidewell.yaml': std.manifestYamlDoc($.tidewell_config) },
  },
}
