-- Issue 5: environments' versioned, encrypted variables; policy, proposals, freezes, required keys;
-- audit details.

-- The newest version of the environment's variable set (0: none yet). A write locks this row
-- (SELECT ... FOR UPDATE), checks the version it was based on, and bumps it: versions are gapless.
ALTER TABLE environments ADD COLUMN var_version integer NOT NULL DEFAULT 0;

-- One row per version of an environment's variable set: who, why, when, and which keys changed
-- (never values). Immutable: a rollback is a new version equal to an older one.
CREATE TABLE env_versions (
  environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
  number integer NOT NULL CHECK (number > 0),
  project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('change', 'import', 'rollback', 'promotion')),
  message text NOT NULL DEFAULT '',
  author_id uuid REFERENCES users (id) ON DELETE SET NULL,
  author_email text,
  -- [{ "key": "K", "service": "" | "<slug>", "op": "added" | "changed" | "removed" }]
  changes jsonb NOT NULL,
  -- rollback: the version restored; promotion: the source environment and its version.
  restored_version integer,
  source_environment_id uuid REFERENCES environments (id) ON DELETE SET NULL,
  source_version integer,
  -- Applied through an approved proposal: the proposal, and who approved it.
  proposal_id uuid,
  approved_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (environment_id, number)
);
CREATE INDEX env_versions_project_idx ON env_versions (project_id, created_at DESC);
CREATE INDEX env_versions_author_id_idx ON env_versions (author_id);
CREATE INDEX env_versions_approved_by_idx ON env_versions (approved_by);
CREATE INDEX env_versions_source_environment_id_idx ON env_versions (source_environment_id);

-- Values, valid for versions [from_version, to_version): the current set is `to_version IS NULL`,
-- version N is `from_version <= N AND (to_version IS NULL OR to_version > N)`. A change closes the
-- old row (sets to_version, the only UPDATE ever made) and inserts a new one; nothing is deleted
-- while the environment exists. `service` '' is the whole environment, else a service slug whose
-- value overrides the environment's for that service. Every value (plain or secret) is sealed with
-- AES-256-GCM under the project's data key (pkg/src/project-keys.ts), AAD bound to the environment,
-- service and key; `secret` decides masking, not encryption.
CREATE TABLE env_vars (
  id bigserial PRIMARY KEY,
  project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
  service text NOT NULL DEFAULT '',
  key text NOT NULL,
  secret boolean NOT NULL,
  value_sealed text NOT NULL,
  -- Bytes of the plaintext (UTF-8), for listings without decrypting.
  size integer NOT NULL,
  from_version integer NOT NULL,
  to_version integer,
  CHECK (to_version IS NULL OR to_version > from_version)
);
CREATE UNIQUE INDEX env_vars_current_idx ON env_vars (environment_id, service, key) WHERE to_version IS NULL;
CREATE INDEX env_vars_version_idx ON env_vars (environment_id, from_version);
CREATE INDEX env_vars_project_id_idx ON env_vars (project_id);

-- Per-environment policy; without a row the defaults apply (api/src/envs/policy.ts: production-like
-- environments let developers only propose). Roles are minimums in viewer < developer < admin < owner.
CREATE TABLE env_policies (
  environment_id uuid PRIMARY KEY REFERENCES environments (id) ON DELETE CASCADE,
  project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  read_role text NOT NULL CHECK (read_role IN ('viewer', 'developer', 'admin', 'owner')),
  reveal_role text NOT NULL CHECK (reveal_role IN ('viewer', 'developer', 'admin', 'owner')),
  change_role text NOT NULL CHECK (change_role IN ('viewer', 'developer', 'admin', 'owner')),
  propose_role text NOT NULL CHECK (propose_role IN ('viewer', 'developer', 'admin', 'owner')),
  approve_role text NOT NULL CHECK (approve_role IN ('admin', 'owner')),
  updated_by uuid REFERENCES users (id) ON DELETE SET NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX env_policies_project_id_idx ON env_policies (project_id);
CREATE INDEX env_policies_updated_by_idx ON env_policies (updated_by);

-- A change waiting for approval. The set/unset list is sealed (values are secrets); `summary` holds
-- keys and operations only. Applied atomically on approval by a different admin or owner.
CREATE TABLE env_proposals (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
  number integer NOT NULL,
  kind text NOT NULL CHECK (kind IN ('change', 'import', 'rollback', 'promotion')),
  base_version integer NOT NULL,
  message text NOT NULL DEFAULT '',
  changes_sealed text NOT NULL,
  summary jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'applied', 'rejected', 'cancelled', 'conflict')),
  author_id uuid REFERENCES users (id) ON DELETE SET NULL,
  author_email text,
  created_at timestamptz NOT NULL DEFAULT now(),
  decided_by uuid REFERENCES users (id) ON DELETE SET NULL,
  decided_by_email text,
  decided_at timestamptz,
  decision_comment text,
  applied_version integer,
  source_environment_id uuid REFERENCES environments (id) ON DELETE SET NULL,
  source_version integer,
  UNIQUE (project_id, number)
);
CREATE INDEX env_proposals_pending_idx ON env_proposals (environment_id, created_at) WHERE status = 'pending';
CREATE INDEX env_proposals_author_id_idx ON env_proposals (author_id);
CREATE INDEX env_proposals_decided_by_idx ON env_proposals (decided_by);
CREATE INDEX env_proposals_source_environment_id_idx ON env_proposals (source_environment_id);

-- Freeze windows: changes (and approvals, rollbacks, promotions into the environment) are refused
-- while one is active, with the time it ends.
CREATE TABLE env_freezes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
  starts_at timestamptz NOT NULL,
  ends_at timestamptz NOT NULL,
  reason text NOT NULL DEFAULT '',
  created_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at)
);
CREATE INDEX env_freezes_environment_idx ON env_freezes (environment_id, ends_at);
CREATE INDEX env_freezes_project_id_idx ON env_freezes (project_id);
CREATE INDEX env_freezes_created_by_idx ON env_freezes (created_by);

-- Keys every environment must have before something is promoted into it, optionally with a pattern
-- (a JavaScript regular expression, checked without the u flag) the value must match.
CREATE TABLE env_required_keys (
  project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  key text NOT NULL,
  pattern text,
  description text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, key)
);

-- What an audited action touched (for variables: { keys: [...], service, version, ... }; never values).
ALTER TABLE audit_log ADD COLUMN details jsonb;
CREATE INDEX audit_log_environment_idx ON audit_log (environment_id, id DESC) WHERE environment_id IS NOT NULL;
CREATE INDEX audit_log_keys_idx ON audit_log USING gin ((details -> 'keys'));
