// Small builders for the Kubernetes objects every component needs (no ksonnet dependency).
{
  labels(name, component):: {
    'app.kubernetes.io/name': 'tidewell',
    'app.kubernetes.io/component': component,
    name: name,
  },

  metadata(name, namespace, labels):: { name: name, namespace: namespace, labels: labels },

  // One Tidewell container: its flags, the shared config, readiness on /ready, one data volume.
  container(cfg, images, args, resources):: {
    name: 'tidewell',
    image: images.tidewell,
    imagePullPolicy: 'IfNotPresent',
    args: args,
    ports: [{ name: 'http-metrics', containerPort: cfg.http_port }],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ] + (if cfg.storage_backend == 's3' then [
      { name: 'S3_ACCESS_KEY_ID',
        valueFrom: { secretKeyRef: { name: cfg.storage_s3_secret_name,
                                     key: cfg.storage_s3_access_key_id_key } } },
      { name: 'S3_SECRET_ACCESS_KEY',
        valueFrom: { secretKeyRef: { name: cfg.storage_s3_secret_name,
                                     key: cfg.storage_s3_secret_access_key_key } } },
    ] else []),
    readinessProbe: {
      httpGet: { path: '/ready', port: 'http-metrics' },
      initialDelaySeconds: 5,
      periodSeconds: 10,
      timeoutSeconds: 2,
    },
    resources: resources,
    securityContext: {
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    // The root filesystem is read-only: state (and Numba's kernel cache, NUMBA_CACHE_DIR in
    // the image) goes to the data volume, temporary files to /tmp.
    volumeMounts: [
      { name: 'config', mountPath: '/etc/tidewell', readOnly: true },
      { name: 'data', mountPath: cfg.data_dir },
      { name: 'tmp', mountPath: '/tmp' },
    ],
  },

  // `data=false`: a stateless component, its data volume is an emptyDir.
  podSpec(cfg, container, grace, data=true):: {
    terminationGracePeriodSeconds: grace,
    securityContext: { runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001 },
    containers: [container],
    volumes: [
      { name: 'config', configMap: { name: 'tidewell-config' } },
      { name: 'tmp', emptyDir: {} },
    ] + (if data then [] else [{ name: 'data', emptyDir: {} }]),
  },

  deployment(cfg, name, component, replicas, pod):: {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: $.metadata(name, cfg.namespace, $.labels(name, component)),
    spec: {
      replicas: replicas,
      selector: { matchLabels: { name: name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: { metadata: { labels: $.labels(name, component) }, spec: pod },
    },
  },

  // Pods keep their name (the ring instance ID, the partition) and their volume.
  statefulSet(cfg, name, component, replicas, pod, disk, serviceName=name, extraLabels={}):: {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: $.metadata(name, cfg.namespace, $.labels(name, component) + extraLabels),
    spec: {
      replicas: replicas,
      serviceName: serviceName,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: { name: name } },
      updateStrategy: { type: 'RollingUpdate' },
      template: { metadata: { labels: $.labels(name, component) + extraLabels }, spec: pod },
      volumeClaimTemplates: [{
        metadata: { name: 'data' },
        spec: {
          accessModes: ['ReadWriteOnce'],
          resources: { requests: { storage: disk } },
        } + (if cfg.storage_class != null then { storageClassName: cfg.storage_class } else {}),
      }],
    },
  },

  service(cfg, name, selector, port, headless=false):: {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: $.metadata(name, cfg.namespace, { 'app.kubernetes.io/name': 'tidewell', name: name }),
    spec: {
      selector: selector,
      ports: [{ name: 'http-metrics', port: port, targetPort: port }],
    } + (if headless then { clusterIP: 'None', publishNotReadyAddresses: true } else {}),
  },

  pdb(cfg, name, selector, maxUnavailable=1):: {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: $.metadata(name, cfg.namespace, { 'app.kubernetes.io/name': 'tidewell', name: name }),
    spec: { maxUnavailable: maxUnavailable, selector: { matchLabels: selector } },
  },
}
