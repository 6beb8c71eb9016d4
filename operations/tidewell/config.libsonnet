// Settings of a Tidewell deployment, in one `_config` object (as Mimir's operations/mimir).
//
// `ingest_storage_enabled: true` deploys the ingest storage architecture of Mimir 3:
// distributors produce to a Kafka-compatible log, ingesters (one StatefulSet per zone, the
// pod ordinal is the partition) consume it, store-gateways, queriers, a query-frontend and
// a compactor read and maintain the bucket; rings live in etcd. `false` deploys one
// `-target=all` process on its embedded log (Tidewell has no classic write path).
{
  _config+:: {
    namespace: error 'set _config.namespace',
    cluster_domain: 'cluster.local',
    ingest_storage_enabled: false,

    // The guide's Kafka defaults: kafka.<namespace>.svc.<cluster_domain>:9092, topic `ingest`.
    kafka_address: 'kafka.%(namespace)s.svc.%(cluster_domain)s:9092' % self,
    kafka_produce_endpoint: self.kafka_address,  // -ingest-storage.kafka.produce-endpoint (distributors)
    kafka_consume_endpoint: self.kafka_address,  // -ingest-storage.kafka.consume-endpoint (ingesters)
    kafka_topic: 'ingest',
    // At least as many partitions as ingesters per zone (Jsonnet's default, as Mimir's).
    kafka_auto_create_topic_default_partitions: 1000,

    // Rings (partition ring, ingester and store-gateway rings, compactor ring) in etcd.
    etcd_enabled: true,  // a single-node etcd in the namespace; false: bring your own
    etcd_endpoints: ['etcd.%(namespace)s.svc.%(cluster_domain)s:2379' % self],

    // Object storage for blocks. `filesystem` keeps them on the single process's volume.
    storage_backend: if self.ingest_storage_enabled then 's3' else 'filesystem',
    storage_s3_endpoint: 's3.amazonaws.com',
    storage_s3_region: 'us-east-1',
    storage_s3_bucket_name: 'tidewell-blocks',
    // Credentials come from this Secret (keys below) through the environment.
    storage_s3_secret_name: 'tidewell-s3',
    storage_s3_access_key_id_key: 'access_key_id',
    storage_s3_secret_access_key_key: 'secret_access_key',

    multitenancy_enabled: true,
    http_port: 8080,
    data_dir: '/data',

    ingester_zones: ['zone-a', 'zone-b'],
    ingester_replicas_per_zone: 3,  // one partition each: ingester-zone-a-<ordinal> reads <ordinal>
    distributor_replicas: 2,
    querier_replicas: 2,
    query_frontend_replicas: 1,
    store_gateway_replicas: 3,
    compactor_replicas: 1,

    // Long enough for an ingester to snapshot its heads on SIGTERM (Mimir gives ingesters 20m).
    ingester_termination_grace_period_seconds: 1200,
    termination_grace_period_seconds: 60,
    ingester_data_disk_size: '100Gi',
    store_gateway_data_disk_size: '50Gi',
    compactor_data_disk_size: '100Gi',
    single_process_data_disk_size: '100Gi',
    storage_class: null,  // the cluster's default

    resources: {
      distributor: { requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '4Gi' } },
      ingester: { requests: { cpu: '2', memory: '8Gi' }, limits: { memory: '16Gi' } },
      querier: { requests: { cpu: '1', memory: '2Gi' }, limits: { memory: '8Gi' } },
      query_frontend: { requests: { cpu: '500m', memory: '512Mi' }, limits: { memory: '2Gi' } },
      store_gateway: { requests: { cpu: '1', memory: '2Gi' }, limits: { memory: '8Gi' } },
      compactor: { requests: { cpu: '1', memory: '2Gi' }, limits: { memory: '8Gi' } },
      single_process: { requests: { cpu: '2', memory: '8Gi' }, limits: { memory: '16Gi' } },
      etcd: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } },
    },
  },

  _images+:: {
    tidewell: 'tidewell:latest',  // built from the Containerfile at the repository root
    etcd: 'quay.io/coreos/etcd:v3.5.17',
  },

  // The YAML every Tidewell container loads with -config.file (keys are Tidewell's, which
  // are Mimir's where the concept is the same).
  local kv = {
    store: 'etcd',
    etcd: { endpoints: $._config.etcd_endpoints },
  },
  local ring = { kvstore: kv },
  local s3 = {
    endpoint: $._config.storage_s3_endpoint,
    region: $._config.storage_s3_region,
    bucket_name: $._config.storage_s3_bucket_name,
    access_key_id: '${S3_ACCESS_KEY_ID}',
    secret_access_key: '${S3_SECRET_ACCESS_KEY}',
  },

  tidewell_config:: {
    multitenancy_enabled: $._config.multitenancy_enabled,
    server: { http_listen_port: $._config.http_port },
    common: { storage: { path: $._config.data_dir } },
    blocks_storage: { backend: $._config.storage_backend }
                    + (if $._config.storage_backend == 's3' then { s3: s3 } else {}),
  } + (
    if $._config.ingest_storage_enabled then {
      ingest_storage: {
        enabled: true,
        kafka: {
          address: $._config.kafka_address,
          topic: $._config.kafka_topic,
          auto_create_topic_default_partitions: $._config.kafka_auto_create_topic_default_partitions,
        },
      },
      ingester: {
        ring: ring { zone_awareness_enabled: true },
        partition_ring: ring,
      },
      store_gateway: { sharding_ring: ring },
      compactor: { sharding_ring: ring },
      frontend: {
        downstream_url: 'http://querier.%(namespace)s.svc.%(cluster_domain)s:%(http_port)d' % $._config,
      },
    } else {}
  ),

  // Flags per target, added after -config.file (they win over the file). $(POD_NAME) is
  // expanded by Kubernetes from the container's environment.
  tidewell_args:: {
    common: [
      '-config.file=/etc/tidewell/tidewell.yaml',
      '-config.expand-env=true',
    ],
    distributor: ['-target=distributor',
                  '-ingest-storage.kafka.produce-endpoint=' + $._config.kafka_produce_endpoint],
    ingester(zone): ['-target=ingester',
                     '-ingest-storage.kafka.consume-endpoint=' + $._config.kafka_consume_endpoint,
                     '-ingester.ring.instance-id=$(POD_NAME)',
                     '-ingester.ring.instance-availability-zone=' + zone],
    querier: ['-target=querier'],
    query_frontend: ['-target=query-frontend'],
    store_gateway: ['-target=store-gateway', '-store-gateway.sharding-ring.instance-id=$(POD_NAME)'],
    compactor: ['-target=compactor', '-compactor.ring.instance-id=$(POD_NAME)'],
    single_process: ['-target=all'],
  },
}
