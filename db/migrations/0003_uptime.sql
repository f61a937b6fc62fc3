-- Uptime targets and their check results (raw, and rolled up per minute, hour and day with the same
-- sketch as request latency), and the leases that give each target to exactly one worker.
-- docs/uptime.md explains how they work together.

CREATE TABLE targets (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
  name text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('http', 'tcp', 'heartbeat')),
  -- The check itself (builder/src/probes): URL, method, assertions...; {} for heartbeats.
  spec jsonb NOT NULL,
  interval_s integer NOT NULL CHECK (interval_s BETWEEN 5 AND 86400),
  -- Heartbeats: how late a beat may be before the target is down.
  grace_s integer NOT NULL DEFAULT 0 CHECK (grace_s BETWEEN 0 AND 86400),
  fail_after integer NOT NULL DEFAULT 1 CHECK (fail_after BETWEEN 1 AND 100),
  recover_after integer NOT NULL DEFAULT 1 CHECK (recover_after BETWEEN 1 AND 100),
  -- Plain rules besides "down": latency above this is "degraded".
  degraded_ms integer CHECK (degraded_ms > 0),
  anomaly boolean NOT NULL DEFAULT true,
  enabled boolean NOT NULL DEFAULT true,
  tags text[] NOT NULL DEFAULT '{}',
  -- Which scheduler shard (builder/src/uptime/leases.ts) the target belongs to.
  shard smallint NOT NULL DEFAULT floor(random() * 64)::smallint CHECK (shard BETWEEN 0 AND 63),
  -- Heartbeats: the push URL's secret, hashed; the prefix helps users tell URLs apart.
  heartbeat_hash text UNIQUE,
  heartbeat_prefix text,
  created_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- State, kept by whichever worker holds the target's shard.
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'up', 'down')),
  status_since timestamptz NOT NULL DEFAULT now(),
  fail_streak integer NOT NULL DEFAULT 0,
  ok_streak integer NOT NULL DEFAULT 0,
  last_check_at timestamptz,
  last_ok boolean,
  last_duration_ms double precision,
  last_status_code integer,
  last_error_class text,
  last_message text,
  cert_days_left double precision,
  last_beat_at timestamptz,
  UNIQUE (project_id, environment_id, name)
);
CREATE INDEX targets_project_idx ON targets (project_id, name, id);
CREATE INDEX targets_environment_idx ON targets (environment_id);
CREATE INDEX targets_shard_idx ON targets (shard) WHERE enabled;
CREATE INDEX targets_created_by_idx ON targets (created_by);
CREATE INDEX targets_tags_idx ON targets USING gin (tags);

-- No foreign keys (as for telemetry): one check per inserted row would cost throughput; the
-- retention worker deletes the rows of deleted targets.
CREATE TABLE check_results (
  id bigserial PRIMARY KEY,
  target_id uuid NOT NULL,
  project_id uuid NOT NULL,
  time timestamptz NOT NULL,
  ok boolean NOT NULL,
  duration_ms double precision NOT NULL,
  dns_ms real,
  connect_ms real,
  tls_ms real,
  first_byte_ms real,
  status_code smallint,
  error_class text,
  message text,
  cert_days_left real,
  worker text
);
CREATE INDEX check_results_target_idx ON check_results (target_id, time DESC);
CREATE INDEX check_results_time_brin ON check_results USING brin (time);

CREATE TABLE target_rollups_1m (
  target_id uuid NOT NULL,
  bucket timestamptz NOT NULL,
  count bigint NOT NULL,
  failures bigint NOT NULL,
  sum_ms double precision NOT NULL,
  min_ms double precision NOT NULL,
  max_ms double precision NOT NULL,
  sketch bigint[] NOT NULL,
  PRIMARY KEY (target_id, bucket)
);
CREATE INDEX target_rollups_1m_bucket_idx ON target_rollups_1m (bucket);
CREATE TABLE target_rollups_1h (LIKE target_rollups_1m INCLUDING ALL);
CREATE TABLE target_rollups_1d (LIKE target_rollups_1m INCLUDING ALL);

-- Targets are spread over SCHEDULER_SHARDS shards by id; a worker checks the targets of the shards
-- it leases. A lease not renewed by `until` is free for another worker.
CREATE TABLE scheduler_leases (
  shard integer PRIMARY KEY,
  owner text NOT NULL,
  until timestamptz NOT NULL
);
CREATE TABLE workers (
  id text PRIMARY KEY,
  host text NOT NULL,
  pid integer NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  seen_at timestamptz NOT NULL DEFAULT now()
);

