-- Issue 4, part two: anomaly detector state, incidents with their timelines, maintenance windows,
-- notification channels (URLs sealed with a per-project data key) and the delivery outbox.
-- docs/uptime.md and docs/incidents.md explain how they fit together.

-- Anomaly sensitivity per target (builder/src/anomaly/config.ts).
ALTER TABLE targets ADD COLUMN sensitivity text NOT NULL DEFAULT 'medium'
  CHECK (sensitivity IN ('low', 'medium', 'high'));
-- The list API filters by status and kind within a project.
CREATE INDEX targets_project_status_idx ON targets (project_id, status, name, id);

-- One data key per project, wrapped by the master key (pkg/src/seal.ts); it seals the project's
-- secrets (channel URLs now, environment secrets later).
CREATE TABLE project_keys (
  project_id uuid PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
  wrapped text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  rewrapped_at timestamptz
);

-- Per-service rules for runtime telemetry (services without a row get the defaults).
CREATE TABLE service_rules (
  project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
  service text NOT NULL,
  p95_above_ms integer CHECK (p95_above_ms > 0),
  error_rate_above double precision CHECK (error_rate_above > 0 AND error_rate_above <= 1),
  min_requests integer NOT NULL DEFAULT 20 CHECK (min_requests >= 1),
  anomaly boolean NOT NULL DEFAULT true,
  sensitivity text NOT NULL DEFAULT 'medium' CHECK (sensitivity IN ('low', 'medium', 'high')),
  PRIMARY KEY (project_id, environment_id, service)
);

-- The anomaly detectors' state between evaluations (builder/src/anomaly), one per series.
CREATE TABLE detector_state (
  project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  environment_id uuid NOT NULL,
  subject_type text NOT NULL CHECK (subject_type IN ('target', 'service')),
  subject_id text NOT NULL,
  metric text NOT NULL,
  state jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, environment_id, subject_type, subject_id, metric)
);

-- The last incident number per project (#1, #2...).
CREATE TABLE incident_counters (
  project_id uuid PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
  last integer NOT NULL
);

CREATE TABLE incidents (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  -- #N within the project, for people.
  number integer NOT NULL,
  environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
  subject_type text NOT NULL CHECK (subject_type IN ('target', 'service')),
  -- A target's id or a service's name.
  subject_id text NOT NULL,
  subject_name text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('down', 'heartbeat_missed', 'degraded', 'error_rate',
    'latency_anomaly', 'error_rate_anomaly', 'cert_expiring')),
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
  title text NOT NULL,
  reason text NOT NULL DEFAULT '',
  numbers jsonb NOT NULL DEFAULT '{}',
  opened_at timestamptz NOT NULL DEFAULT now(),
  acknowledged_at timestamptz,
  acknowledged_by uuid REFERENCES users (id) ON DELETE SET NULL,
  resolved_at timestamptz,
  resolved_by uuid REFERENCES users (id) ON DELETE SET NULL,
  last_notified_at timestamptz,
  UNIQUE (project_id, number)
);
-- One incident per (subject, kind) while it lasts: opening a second one fails.
CREATE UNIQUE INDEX incidents_one_open_idx ON incidents (project_id, environment_id, subject_type,
  subject_id, kind) WHERE status <> 'resolved';
CREATE INDEX incidents_project_idx ON incidents (project_id, opened_at DESC);
CREATE INDEX incidents_unresolved_idx ON incidents (last_notified_at) WHERE status <> 'resolved';
CREATE INDEX incidents_acknowledged_by_idx ON incidents (acknowledged_by);
CREATE INDEX incidents_resolved_by_idx ON incidents (resolved_by);
CREATE INDEX incidents_environment_idx ON incidents (environment_id);

CREATE TABLE incident_events (
  id bigserial PRIMARY KEY,
  incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  at timestamptz NOT NULL DEFAULT now(),
  type text NOT NULL CHECK (type IN ('opened', 'notified', 'acknowledged', 'comment', 'resolved',
    'reminder', 'suppressed')),
  actor_id uuid REFERENCES users (id) ON DELETE SET NULL,
  -- Who, as shown: a user's email, or "peep" for automatic events.
  actor_name text NOT NULL,
  body text NOT NULL DEFAULT '',
  data jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX incident_events_incident_idx ON incident_events (incident_id, id);
CREATE INDEX incident_events_actor_idx ON incident_events (actor_id);

CREATE TABLE maintenance_windows (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  title text NOT NULL,
  starts_at timestamptz NOT NULL,
  ends_at timestamptz NOT NULL CHECK (ends_at > starts_at),
  -- Both empty: every target and service of the project.
  target_ids uuid[] NOT NULL DEFAULT '{}',
  services text[] NOT NULL DEFAULT '{}',
  created_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX maintenance_windows_project_idx ON maintenance_windows (project_id, ends_at);
CREATE INDEX maintenance_windows_created_by_idx ON maintenance_windows (created_by);

CREATE TABLE channels (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('slack', 'webhook')),
  -- Sealed with the project's data key; `url_hint` is the masked form the API shows.
  url_sealed text NOT NULL,
  url_hint text NOT NULL,
  -- Webhooks: the HMAC signing secret, sealed.
  secret_sealed text,
  enabled boolean NOT NULL DEFAULT true,
  notify_resolved boolean NOT NULL DEFAULT true,
  -- Repeat a reminder while an incident stays open (minutes); null: never.
  reminder_minutes integer CHECK (reminder_minutes BETWEEN 5 AND 10080),
  created_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (project_id, name)
);
CREATE INDEX channels_created_by_idx ON channels (created_by);

-- The notification outbox: a row per message per channel, attempted until delivered or given up.
CREATE TABLE deliveries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  channel_id uuid NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
  project_id uuid NOT NULL,
  incident_id uuid REFERENCES incidents (id) ON DELETE CASCADE,
  type text NOT NULL CHECK (type IN ('opened', 'reminder', 'resolved', 'acknowledged', 'test')),
  -- The message as rendered input (builder/src/notify IncidentMessage), fixed when enqueued so a
  -- late delivery still says what was true then. Holds no secret.
  message jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'ok', 'failed')),
  -- DeliveryAttempt[] of builder/src/notify, appended as attempts finish.
  attempts jsonb NOT NULL DEFAULT '[]',
  error text,
  -- Which worker is sending it, and until when that claim holds (a dead worker's claim expires).
  claimed_by text,
  claimed_until timestamptz,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX deliveries_pending_idx ON deliveries (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX deliveries_channel_idx ON deliveries (channel_id, created_at DESC);
CREATE INDEX deliveries_incident_idx ON deliveries (incident_id);
