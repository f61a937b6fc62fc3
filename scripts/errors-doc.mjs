#!/usr/bin/env node
// Writes docs/errors.md from pkg's ERROR_CODES (run after `npm run build:ts`). A test fails when the
// document misses a code, so run this whenever you add one.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES } from '../pkg/dist/errors.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rows = Object.entries(ERROR_CODES).map(
  ([code, { status, description }]) => `| \`${code}\` | ${status} | ${description} |`,
);
const doc = `# API error codes

Every API error answers with one JSON envelope:

\`\`\`json
{ "error": { "code": "project_not_found", "message": "…", "requestId": "…", "details": … } }
\`\`\`

\`code\` is stable and safe to branch on; \`message\` is for people; \`requestId\` matches the
\`x-request-id\` response header and the server's log lines; \`details\` is present for
\`validation_failed\` (one entry per problem: \`where\`, \`path\`, \`message\`, and \`field\` for unknown fields).

The OAuth endpoints (\`/api/v1/oauth/device_authorization\`, \`/api/v1/oauth/token\`) answer the error
format of RFC 6749 §5.2 instead (\`{"error": "authorization_pending", "error_description": "…"}\`):
\`invalid_request\`, \`invalid_client\`, \`invalid_grant\`, \`invalid_scope\`, \`unsupported_grant_type\`,
\`authorization_pending\`, \`slow_down\`, \`access_denied\`, \`expired_token\` (RFC 8628 §3.5).

| code | HTTP status | meaning and what to do |
|---|---|---|
${rows.join('\n')}
`;
fs.writeFileSync(path.join(root, 'docs/errors.md'), doc);
console.log(`docs/errors.md: ${rows.length} codes`);
