/**
 * One error system for every peep process. Each code is stable, maps to one HTTP status, and is
 * documented in docs/errors.md (a test fails when one is missing there).
 */
export const ERROR_CODES = {
  // request shape
  validation_failed: {
    status: 400,
    description: 'The request body, query or path did not match the schema; `details` lists each problem.',
  },
  invalid_json: { status: 400, description: 'The request body is not valid JSON.' },
  unsupported_media_type: {
    status: 415,
    description: 'The Content-Type is not one this endpoint accepts (usually `application/json`).',
  },
  payload_too_large: {
    status: 413,
    description:
      'The request body is larger than the configured limit (`PEEP_BODY_LIMIT`; `PEEP_INGEST_BODY_LIMIT` for telemetry ingest).',
  },
  route_not_found: { status: 404, description: 'No API route matches this method and path.' },
  // authentication
  unauthenticated: {
    status: 401,
    description: 'No session cookie or bearer token was sent, or it is not one peep knows.',
  },
  token_revoked: {
    status: 401,
    description: 'The bearer token was revoked. Create a new one or run `peep login` again.',
  },
  token_expired: { status: 401, description: 'The bearer token or session has expired. Sign in again.' },
  invalid_credentials: { status: 401, description: 'The email or password is wrong.' },
  csrf_token_invalid: {
    status: 403,
    description:
      'A cookie-authenticated write did not carry the `x-csrf-token` header matching the `peep_csrf` cookie.',
  },
  insufficient_scope: {
    status: 403,
    description:
      'The token lacks the scope this call needs (`read` for reads, `write` for changes, `admin` for instance administration).',
  },
  rate_limited: {
    status: 429,
    description: 'Too many attempts; retry after the number of seconds in `Retry-After`.',
  },
  // authorization
  forbidden: { status: 403, description: 'Your role in this project does not allow this action.' },
  instance_admin_required: {
    status: 403,
    description: 'Only the instance owner or an instance admin may do this.',
  },
  // setup and users
  setup_token_invalid: {
    status: 400,
    description:
      'The setup or invitation link is unknown, used or expired. Restart `peep up` for a new owner link or ask for a new invitation.',
  },
  setup_already_completed: { status: 409, description: 'The owner account already exists.' },
  email_taken: { status: 409, description: 'A user with this email already exists.' },
  weak_password: { status: 400, description: 'Passwords need at least 12 characters.' },
  user_not_found: { status: 404, description: 'No user with this id or email.' },
  // device authorization (dashboard side; the OAuth endpoints answer RFC 6749 errors)
  device_code_not_found: {
    status: 404,
    description: 'No pending device login has this user code. Check the code shown by the CLI.',
  },
  device_code_expired: { status: 410, description: 'This device login expired. Start `peep login` again.' },
  device_code_already_decided: {
    status: 409,
    description: 'This device login was already approved or denied.',
  },
  // projects
  project_not_found: { status: 404, description: 'No project with this id that you are a member of.' },
  slug_taken: {
    status: 409,
    description: 'Another resource in the same scope already uses this slug or name.',
  },
  environment_not_found: { status: 404, description: 'No environment with this id in this project.' },
  last_environment: { status: 409, description: 'A project keeps at least one environment.' },
  service_not_found: { status: 404, description: 'No service with this id in this project.' },
  member_not_found: { status: 404, description: 'This user is not a member of the project.' },
  member_exists: { status: 409, description: 'This user is already a member of the project.' },
  last_owner: { status: 409, description: 'A project keeps at least one owner.' },
  token_not_found: { status: 404, description: 'No token with this id belongs to you.' },
  ingest_key_not_found: { status: 404, description: 'No ingest key with this id in this project.' },
  invalid_cursor: {
    status: 400,
    description: 'The pagination cursor is malformed; use the `nextCursor` value from a previous page.',
  },
  // telemetry
  ingest_key_invalid: {
    status: 401,
    description:
      'Ingest endpoints need `Authorization: Bearer peep_ik_...` with a known ingest key (create one in the project settings or with `peep ingest-keys create`).',
  },
  ingest_key_revoked: { status: 401, description: 'The ingest key was revoked. Create a new one.' },
  invalid_payload: {
    status: 400,
    description:
      'The body could not be decoded: bad gzip, protobuf or JSON, or an NDJSON line that is not an object; `details` says where.',
  },
  unsupported_encoding: {
    status: 415,
    description: 'The Content-Encoding is not one peep accepts (`gzip` or none).',
  },
  ingest_overloaded: {
    status: 503,
    description:
      'The ingest queue is full (`PEEP_INGEST_QUEUE_MAX`); nothing in this request was stored. Retry after `Retry-After` seconds.',
  },
  invalid_range: {
    status: 400,
    description:
      'The time range is malformed, ends before it starts, lies in the future, or spans more points than allowed; the message says which.',
  },
  step_too_fine: {
    status: 400,
    description:
      'The step is finer than the rollups kept for that window (minute rollups for `PEEP_ROLLUP_MINUTE_HOURS`, then hourly, then daily), or not a whole number of minutes.',
  },
  unknown_filter: {
    status: 400,
    description: 'A query parameter is not a filter this endpoint knows; `details.allowed` lists them.',
  },
  // uptime targets
  target_not_found: { status: 404, description: 'No uptime target with this id in this project.' },
  target_exists: {
    status: 409,
    description: 'The project already has a target with this name in this environment.',
  },
  invalid_spec: {
    status: 400,
    description:
      "The target's check spec is invalid; `details` lists each problem (`path`, `code`, `message`; codes in docs/uptime.md).",
  },
  invalid_targets: {
    status: 400,
    description:
      'Some items of a `targets apply` are invalid; `details` lists each one (`index`, `name`, `code`, `message`). Nothing was applied.',
  },
  duplicate_target: {
    status: 400,
    description: 'A `targets apply` list names the same target (name and environment) more than once.',
  },
  heartbeat_not_found: {
    status: 404,
    description: 'No heartbeat target has this push URL: the token is unknown or was rotated.',
  },
  target_paused: { status: 409, description: 'The target is paused; resume it to accept heartbeats.' },
  // notification channels
  channel_not_found: { status: 404, description: 'No notification channel with this id in this project.' },
  channel_exists: {
    status: 409,
    description: 'The project already has a notification channel with this name.',
  },
  invalid_channel_url: {
    status: 400,
    description:
      'The channel URL is not usable: Slack needs `https://hooks.slack.com/…`; webhooks need an absolute http(s) URL without a user name or password. The message says which rule failed (it never repeats the URL).',
  },
  // incidents and maintenance windows
  incident_not_found: {
    status: 404,
    description: 'No incident with this id or number in this project.',
  },
  incident_resolved: {
    status: 409,
    description:
      'The incident is already resolved; it cannot be acknowledged or resolved again (comments are still accepted).',
  },
  maintenance_not_found: { status: 404, description: 'No maintenance window with this id in this project.' },
  invalid_maintenance_window: {
    status: 400,
    description:
      'The maintenance window is not usable: it must end after it starts, end in the future, and last at most 31 days. The message says which.',
  },
  invalid_maintenance_target: {
    status: 400,
    description:
      'A maintenance window names target ids that are not targets of this project; `details.targetIds` lists them.',
  },
  // environment variables (issue 5; docs/environments.md)
  invalid_key: {
    status: 400,
    description:
      'A variable name is not valid: letters, digits and underscores, not starting with a digit, at most 256 characters; `details` lists each bad name.',
  },
  invalid_value: {
    status: 400,
    description:
      'A variable value is not text: values are UTF-8 without NUL characters (binary data must be encoded, e.g. base64).',
  },
  value_too_large: {
    status: 400,
    description: 'A variable value is larger than 64 KiB (65,536 bytes of UTF-8); `details` names the key.',
  },
  too_many_variables: {
    status: 400,
    description: 'An environment holds at most 5,000 variables per scope (the environment, or one service).',
  },
  duplicate_key: {
    status: 400,
    description:
      'The same variable (key and service) appears more than once in one change or import; `details` lists them (with line numbers for an import).',
  },
  invalid_dotenv: {
    status: 400,
    description:
      'An imported .env file has malformed lines; `details` lists each (`line`, `message`). Nothing was imported.',
  },
  variable_not_found: {
    status: 404,
    description: 'No variable with this key (and service) in this environment.',
  },
  version_not_found: { status: 404, description: 'No version with this number in this environment.' },
  version_conflict: {
    status: 409,
    description:
      'The change was based on an older version of the environment: someone changed it meanwhile. `details.currentVersion` is the newest; review the difference and retry.',
  },
  reference_missing: {
    status: 422,
    description:
      'A value refers to a variable that does not exist (`${KEY}` in the same environment, `${env.KEY}` in another); `details` lists each reference.',
  },
  reference_cycle: {
    status: 422,
    description: 'Values refer to each other in a cycle; `details.cycle` lists the keys in order.',
  },
  environment_frozen: {
    status: 423,
    description:
      'The environment is in a freeze window: changes, rollbacks, promotions into it and approvals are refused until `details.until` (reason in `details.reason`).',
  },
  approval_required: {
    status: 403,
    description:
      'Your role may only propose changes to this environment: send the same change to `POST /envs/:env/proposals` (docs/environments-policy.md) and a different admin or owner approves it.',
  },
  proposal_not_found: { status: 404, description: 'No proposal with this id or number in this project.' },
  proposal_not_pending: {
    status: 409,
    description: 'The proposal was already applied, rejected, cancelled or found conflicting.',
  },
  self_approval: {
    status: 403,
    description: 'A proposal must be approved by a different admin or owner than its author.',
  },
  proposal_conflict: {
    status: 409,
    description:
      'Keys the proposal changes were changed in the environment after it was proposed; it is marked `conflict` and must be proposed again. `details.keys` lists them.',
  },
  required_keys_missing: {
    status: 422,
    description:
      'The promotion would leave the target environment without required keys, or with values not matching their pattern; `details` lists each (`key`, `problem`).',
  },
  invalid_policy: {
    status: 400,
    description: 'The policy is not usable (e.g. approvals must need admin or owner); the message says why.',
  },
  freeze_not_found: { status: 404, description: 'No freeze window with this id in this environment.' },
  invalid_freeze_window: {
    status: 400,
    description: 'The freeze window must end after it starts, end in the future, and last at most 90 days.',
  },
  invalid_promotion: {
    status: 400,
    description:
      'A promotion must go from an environment to a different one of the same project; the message says why.',
  },
  // server
  sealed_value_unreadable: {
    status: 500,
    description:
      'Data integrity failure: a stored variable value does not open with the project key (tampered or wrong master key). The message and log name the environment and key, never the value; other environments still read.',
  },
  service_unavailable: {
    status: 503,
    description: 'A dependency (usually the database) is unavailable or not migrated yet; retry shortly.',
  },
  internal_error: {
    status: 500,
    description: 'An unexpected error; the server logged it with the request id.',
  },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;
  constructor(code: ErrorCode, message?: string, details?: unknown) {
    super(message ?? ERROR_CODES[code].description);
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = details;
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

/** The JSON body every API error is rendered as. */
export interface ErrorEnvelope {
  error: { code: string; message: string; requestId: string; details?: unknown };
}
