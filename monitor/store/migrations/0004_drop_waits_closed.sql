-- No query reads waits by close time (histograms are observed at ingest, reports select waits by
-- account and opening time): the index only cost every answered wait an extra index write.
DROP INDEX IF EXISTS waits_closed;
