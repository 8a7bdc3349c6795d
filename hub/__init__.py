"""The hall server: ingest, the queue and attendance engines, reports, broker management."""
