"""The ruler (Mimir's): recording and alerting rules per tenant.

- ``rulefmt``/``template``: rule files and the Go-template subset, validated as promtool does.
- ``store``: rule groups in object storage (Mimir's layout) or a local directory.
- ``api``: Mimir's config API and Prometheus's rules/alerts API.
- ``querying``/``output``: reads through the query-frontend, writes through the distributor.
- ``evaluation``/``alerting``/``notifier``: one group evaluation, alert states, Alertmanager.
- ``manager``/``ring``: which groups run here and when.
- ``ruler.Ruler``: the service.
"""
