{{/* true when the ingest storage microservices are deployed (the guide's switch, or Mimir's spelling of it). */}}
{{- define "tidewell.ingestStorage" -}}
{{- $mimir := dig "configuration" "ingest_storage_enabled" false (.Values.mimir | default dict) -}}
{{- if or .Values.tidewell.configuration.ingest_storage_enabled $mimir }}true{{ end -}}
{{- end }}

{{- define "tidewell.kafkaAddress" -}}
{{- .Values.kafka.address | default (printf "kafka.%s.svc.%s:9092" .Release.Namespace .Values.clusterDomain) -}}
{{- end }}

{{- define "tidewell.storageBackend" -}}
{{- .Values.storage.backend | default (ternary "s3" "filesystem" (eq (include "tidewell.ingestStorage" .) "true")) -}}
{{- end }}

{{- define "tidewell.etcdEndpoints" -}}
{{- if .Values.etcd.endpoints }}{{ toJson .Values.etcd.endpoints }}{{ else }}{{ list (printf "etcd.%s.svc.%s:2379" .Release.Namespace .Values.clusterDomain) | toJson }}{{ end -}}
{{- end }}

{{/* The tidewell.yaml every container loads: the same keys and values as the Jsonnet library's. */}}
{{- define "tidewell.config" -}}
{{- $backend := include "tidewell.storageBackend" . -}}
{{- $blocks := dict "backend" $backend -}}
{{- if eq $backend "s3" -}}
{{- $_ := set $blocks "s3" (dict "endpoint" .Values.storage.s3.endpoint "region" .Values.storage.s3.region "bucket_name" .Values.storage.s3.bucketName "access_key_id" "${S3_ACCESS_KEY_ID}" "secret_access_key" "${S3_SECRET_ACCESS_KEY}") -}}
{{- end -}}
{{- $cfg := dict "multitenancy_enabled" .Values.tidewell.configuration.multitenancy_enabled "server" (dict "http_listen_port" .Values.httpPort) "common" (dict "storage" (dict "path" .Values.dataDir)) "blocks_storage" $blocks -}}
{{- if eq (include "tidewell.ingestStorage" .) "true" -}}
{{- $kv := dict "store" "etcd" "etcd" (dict "endpoints" (include "tidewell.etcdEndpoints" . | fromJsonArray)) -}}
{{- $_ := set $cfg "ingest_storage" (dict "enabled" true "kafka" (dict "address" (include "tidewell.kafkaAddress" .) "topic" .Values.kafka.topic "auto_create_topic_default_partitions" .Values.kafka.autoCreateTopicDefaultPartitions)) -}}
{{- $_ := set $cfg "ingester" (dict "ring" (dict "kvstore" $kv "zone_awareness_enabled" true) "partition_ring" (dict "kvstore" $kv)) -}}
{{- $_ := set $cfg "store_gateway" (dict "sharding_ring" (dict "kvstore" $kv)) -}}
{{- $_ := set $cfg "compactor" (dict "sharding_ring" (dict "kvstore" $kv)) -}}
{{- $_ := set $cfg "frontend" (dict "downstream_url" (printf "http://querier.%s.svc.%s:%v" .Release.Namespace .Values.clusterDomain .Values.httpPort)) -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end }}

{{- define "tidewell.labels" -}}
app.kubernetes.io/name: tidewell
app.kubernetes.io/component: {{ .component }}
name: {{ .name }}
{{- end }}

{{- define "tidewell.metadata" -}}
name: {{ .name }}
namespace: {{ .root.Release.Namespace }}
labels:
  {{- include "tidewell.labels" . | nindent 2 }}
  {{- with .extraLabels }}{{ toYaml . | nindent 2 }}{{ end }}
{{- end }}

{{/* A Tidewell pod spec: args, shared config, /ready, data volume. Takes root, args, resources, grace, data. */}}
{{- define "tidewell.podSpec" -}}
terminationGracePeriodSeconds: {{ .grace }}
securityContext: {runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001}
containers:
  - name: tidewell
    image: "{{ .root.Values.image.repository }}:{{ .root.Values.image.tag }}"
    imagePullPolicy: {{ .root.Values.image.pullPolicy }}
    args:
      - -config.file=/etc/tidewell/tidewell.yaml
      - -config.expand-env=true
      {{- range .args }}
      - {{ . }}
      {{- end }}
    ports:
      - {name: http-metrics, containerPort: {{ .root.Values.httpPort }}}
    env:
      - name: POD_NAME
        valueFrom: {fieldRef: {fieldPath: metadata.name}}
      {{- if eq (include "tidewell.storageBackend" .root) "s3" }}
      - name: S3_ACCESS_KEY_ID
        valueFrom: {secretKeyRef: {name: {{ .root.Values.storage.s3.secretName }}, key: {{ .root.Values.storage.s3.accessKeyIdKey }}}}
      - name: S3_SECRET_ACCESS_KEY
        valueFrom: {secretKeyRef: {name: {{ .root.Values.storage.s3.secretName }}, key: {{ .root.Values.storage.s3.secretAccessKeyKey }}}}
      {{- end }}
    readinessProbe:
      httpGet: {path: /ready, port: http-metrics}
      initialDelaySeconds: 5
      periodSeconds: 10
      timeoutSeconds: 2
    resources:
      {{- toYaml .resources | nindent 6 }}
    securityContext:
      runAsNonRoot: true
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities: {drop: [ALL]}
    # The root filesystem is read-only: state (and Numba's kernel cache) on the data
    # volume, temporary files in /tmp.
    volumeMounts:
      - {name: config, mountPath: /etc/tidewell, readOnly: true}
      - {name: data, mountPath: {{ .root.Values.dataDir }}}
      - {name: tmp, mountPath: /tmp}
volumes:
  - name: config
    configMap: {name: tidewell-config}
  - name: tmp
    emptyDir: {}
  {{- if not .data }}
  - name: data
    emptyDir: {}
  {{- end }}
{{- end }}

{{- define "tidewell.volumeClaim" -}}
volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: {{ .size }}}}
      {{- with .root.Values.storageClass }}
      storageClassName: {{ . }}
      {{- end }}
{{- end }}

{{- define "tidewell.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}
  namespace: {{ .root.Release.Namespace }}
  labels: {app.kubernetes.io/name: tidewell, name: {{ .name }}}
spec:
  {{- if .headless }}
  clusterIP: None
  publishNotReadyAddresses: true
  {{- end }}
  selector:
    {{- toYaml .selector | nindent 4 }}
  ports:
    - {name: http-metrics, port: {{ .port }}, targetPort: {{ .port }}}
{{- end }}

{{- define "tidewell.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .name }}
  namespace: {{ .root.Release.Namespace }}
  labels: {app.kubernetes.io/name: tidewell, name: {{ .name }}}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      {{- toYaml .selector | nindent 6 }}
{{- end }}

{{- define "tidewell.deployment" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  {{- include "tidewell.metadata" . | nindent 2 }}
spec:
  replicas: {{ .replicas }}
  selector: {matchLabels: {name: {{ .name }}}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata:
      labels:
        {{- include "tidewell.labels" . | nindent 8 }}
    spec:
      {{- include "tidewell.podSpec" . | nindent 6 }}
{{- end }}

{{- define "tidewell.statefulSet" -}}
apiVersion: apps/v1
kind: StatefulSet
metadata:
  {{- include "tidewell.metadata" . | nindent 2 }}
spec:
  replicas: {{ .replicas }}
  serviceName: {{ .name }}
  podManagementPolicy: Parallel
  selector: {matchLabels: {name: {{ .name }}}}
  updateStrategy: {type: RollingUpdate}
  template:
    metadata:
      labels:
        {{- include "tidewell.labels" . | nindent 8 }}
        {{- with .extraLabels }}{{ toYaml . | nindent 8 }}{{ end }}
    spec:
      {{- include "tidewell.podSpec" . | nindent 6 }}
  {{- include "tidewell.volumeClaim" (dict "root" .root "size" .size) | nindent 2 }}
{{- end }}
