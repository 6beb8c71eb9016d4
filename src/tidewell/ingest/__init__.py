"""The ingest log: record format, writer, partition reader, embedded and Kafka backends."""
