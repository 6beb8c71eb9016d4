"""``tidewell tool local-cluster``: development tooling, never imported by a running component.

It starts peers (a Kafka broker, etcd, moto, memcached) the ``cluster`` extra
and Debian packages provide; only the ``tidewell tool`` command loads it, on demand.
"""
