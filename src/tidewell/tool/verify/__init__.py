"""``tidewell tool verify``: the guide's three post-deployment checks, automated.

Mimir's "Set up ingest storage architecture" ends with three things to confirm by
hand: distributors get Produce acknowledgements, each ingester consumes its
partition and persists its offset in its consumer group, and blocks reach the
bucket every two hours. This package checks them against a running deployment
and prints one PASS/WARN/FAIL line per distributor, partition owner and tenant.
"""
