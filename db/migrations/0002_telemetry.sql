-- Runtime telemetry: raw request events and logs (short retention), OTLP metric points, build logs
-- (a separate table and stream, filled by deployments), and rollups per minute, hour and day with a
-- mergeable quantile sketch.
--
-- Raw tables have no foreign keys on purpose: a check per inserted row costs ingest throughput. The
-- retention worker deletes rows of deleted projects.

ALTER TABLE projects ADD COLUMN raw_retention_days integer NOT NULL DEFAULT 7
  CHECK (raw_retention_days BETWEEN 1 AND 90);

-- Row ids of request_events and runtime_logs: each ingest transaction takes one number n from this
-- sequence and numbers its rows n * 2^20, n * 2^20 + 1, ... (one round trip however many rows).
CREATE SEQUENCE telemetry_block_seq;

CREATE TABLE request_events (
  id bigint NOT NULL,
  project_id uuid NOT NULL,
  environment_id uuid NOT NULL,
  time timestamptz NOT NULL,
  service text NOT NULL,
  route text NOT NULL,
  method text NOT NULL,
  status smallint NOT NULL,
  duration_ms double precision NOT NULL,
  bytes_in bigint,
  bytes_out bigint,
  request_id text,
  trace_id text,
  instance text,
  attributes jsonb
);
-- Live-stream resume (Last-Event-ID) and recent requests per project.
CREATE INDEX request_events_project_id_idx ON request_events (project_id, id);
-- Retention deletes by time; BRIN costs almost nothing to maintain on append-mostly data.
CREATE INDEX request_events_time_brin ON request_events USING brin (time);

CREATE TABLE runtime_logs (
  id bigint NOT NULL,
  project_id uuid NOT NULL,
  environment_id uuid NOT NULL,
  time timestamptz NOT NULL,
  service text NOT NULL,
  level smallint NOT NULL, -- 1 trace, 2 debug, 3 info, 4 warn, 5 error, 6 fatal
  message text NOT NULL,
  request_id text,
  trace_id text,
  span_id text,
  instance text,
  attributes jsonb
);
-- Search, newest first, with a (time, id) cursor.
CREATE INDEX runtime_logs_project_time_idx ON runtime_logs (project_id, time DESC, id DESC);
CREATE INDEX runtime_logs_project_id_idx ON runtime_logs (project_id, id);
CREATE INDEX runtime_logs_request_id_idx ON runtime_logs (project_id, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX runtime_logs_time_brin ON runtime_logs USING brin (time);

-- OTLP sums, gauges and histograms, one row per data point.
CREATE TABLE metric_points (
  id bigint NOT NULL,
  project_id uuid NOT NULL,
  environment_id uuid NOT NULL,
  time timestamptz NOT NULL,
  start_time timestamptz,
  service text NOT NULL,
  name text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('sum', 'gauge', 'histogram')),
  unit text,
  monotonic boolean,
  temporality text CHECK (temporality IN ('cumulative', 'delta')),
  value double precision,
  count bigint,
  sum double precision,
  min double precision,
  max double precision,
  bounds double precision[],
  bucket_counts bigint[],
  attributes jsonb
);
CREATE INDEX metric_points_project_name_time_idx ON metric_points (project_id, name, time);
CREATE INDEX metric_points_time_brin ON metric_points USING brin (time);

-- Build output, never mixed with runtime logs; the deployment issue writes it.
CREATE TABLE build_logs (
  id bigint GENERATED ALWAYS AS IDENTITY,
  project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  build_id uuid NOT NULL,
  time timestamptz NOT NULL DEFAULT now(),
  stream text NOT NULL CHECK (stream IN ('stdout', 'stderr', 'system')),
  line text NOT NULL
);
CREATE INDEX build_logs_build_id_idx ON build_logs (build_id, id);
CREATE INDEX build_logs_project_id_idx ON build_logs (project_id);

-- Retried batches (Idempotency-Key) count once: the key is stored in the same transaction as the
-- batch, with the answer the first attempt got.
CREATE TABLE ingest_idempotency (
  project_id uuid NOT NULL,
  key text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  result jsonb NOT NULL,
  PRIMARY KEY (project_id, key)
);
CREATE INDEX ingest_idempotency_created_at_idx ON ingest_idempotency (created_at);

-- Rollups. One table per resolution; bucket is the start of the minute, hour or UTC day. A row with
-- route = '' and method = '' and status_class = 0 totals the whole service, so service-wide queries
-- read one row per bucket however many routes there are.
--
-- sketch is a DDSketch (relative accuracy 1%, gamma = 1.01/0.99): sketch[1] is the index of the
-- first bucket and sketch[2..] the counts of consecutive buckets; bucket i holds values in
-- (gamma^(i-1), gamma^i] milliseconds. Values below 1 microsecond count in the bucket of 1 microsecond.
CREATE FUNCTION peep_sketch_merge(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  lo bigint;
  hi bigint;
  r bigint[];
  i integer;
  na integer;
  nb integer;
BEGIN
  IF a IS NULL OR cardinality(a) < 2 THEN RETURN b; END IF;
  IF b IS NULL OR cardinality(b) < 2 THEN RETURN a; END IF;
  na := cardinality(a) - 1;
  nb := cardinality(b) - 1;
  -- Usual case: the stored sketch already spans the new one's buckets; add in place.
  IF b[1] >= a[1] AND b[1] + nb <= a[1] + na THEN
    r := a;
    lo := b[1] - a[1] + 1;
    FOR i IN 1..nb LOOP
      IF b[i + 1] <> 0 THEN
        r[lo::integer + i] := r[lo::integer + i] + b[i + 1];
      END IF;
    END LOOP;
    RETURN r;
  END IF;
  lo := least(a[1], b[1]);
  hi := greatest(a[1] + na, b[1] + nb);
  r := array_fill(0::bigint, ARRAY[(hi - lo + 1)::integer]);
  r[1] := lo;
  FOR i IN 1..na LOOP
    r[(a[1] - lo)::integer + i + 1] := r[(a[1] - lo)::integer + i + 1] + a[i + 1];
  END LOOP;
  FOR i IN 1..nb LOOP
    r[(b[1] - lo)::integer + i + 1] := r[(b[1] - lo)::integer + i + 1] + b[i + 1];
  END LOOP;
  RETURN r;
END
$$;

CREATE TABLE rollups_1m (
  project_id uuid NOT NULL,
  environment_id uuid NOT NULL,
  service text NOT NULL,
  route text NOT NULL,
  method text NOT NULL,
  status_class smallint NOT NULL, -- 1..5 for 1xx..5xx; 0 on service totals
  bucket timestamptz NOT NULL,
  count bigint NOT NULL,
  errors bigint NOT NULL,
  sum_ms double precision NOT NULL,
  min_ms double precision NOT NULL,
  max_ms double precision NOT NULL,
  bytes_in bigint NOT NULL,
  bytes_out bigint NOT NULL,
  sketch bigint[] NOT NULL,
  -- Each ingest writer upserts its own shard, so parallel writers never wait on each other's row
  -- locks; queries add the shards up.
  shard smallint NOT NULL DEFAULT 0,
  PRIMARY KEY (project_id, service, route, method, status_class, environment_id, bucket, shard)
);
CREATE INDEX rollups_1m_project_bucket_idx ON rollups_1m (project_id, bucket);
CREATE TABLE rollups_1h (LIKE rollups_1m INCLUDING ALL);
CREATE TABLE rollups_1d (LIKE rollups_1m INCLUDING ALL);
