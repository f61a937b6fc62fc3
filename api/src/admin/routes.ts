/**
 * Instance administration (instance admins only, with a token's `admin` scope). Master key rotation
 * for embedded mode, where PGlite belongs to the running `peep up` and only it can re-wrap the rows
 * (docs/encryption.md). Scaled out, `peep admin rotate-master-key` talks to the database itself.
 */

import { AppError } from '@peep/pkg';
import { type Keyring, MasterKeyError } from '@peep/pkg/master-key';
import {
  countByMasterKey,
  type MasterKeyHolder,
  type MasterKeys,
  type RotationResult,
  resolveKeyring,
  rewrapProjectKeys,
  rotateMasterKeyFile,
} from '@peep/pkg/project-keys';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { requireInstanceAdmin } from '../core/auth.js';
import { errorResponses, noStore } from '../core/http.js';
import type { Deps } from '../core/types.js';

const tags = ['admin'];
const BASE = '/api/v1/admin/master-key';

const Failed = Type.Object({ projectId: Type.String(), code: Type.String(), message: Type.String() });

export const RotationResponse = Type.Object({
  masterKeyId: Type.String(),
  previousKeyId: Type.Union([Type.String(), Type.Null()]),
  rewrapped: Type.Integer(),
  remainingUnderPrevious: Type.Integer(),
  failed: Type.Array(Failed),
  keptPrevious: Type.Array(Type.String()),
});

export const MasterKeyStatus = Type.Object({
  masterKeyId: Type.String(),
  previousKeyIds: Type.Array(Type.String()),
  /** env: PEEP_MASTER_KEY; file/generated: <dataDir>/master.key; given: passed in by the embedding code. */
  source: Type.String(),
  dataKeys: Type.Array(
    Type.Object({
      masterKeyId: Type.String(),
      count: Type.Integer(),
      loaded: Type.Union([Type.Literal('current'), Type.Literal('previous'), Type.Literal('unknown')]),
    }),
  ),
});

const isHolder = (k: MasterKeys): k is MasterKeyHolder =>
  typeof k === 'function' && typeof (k as Partial<MasterKeyHolder>).replace === 'function';

/** Master keys that cannot be loaded are an operator problem: 503 naming what is wrong, never a key. */
async function withKeys<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof MasterKeyError) throw new AppError('service_unavailable', `Master key: ${e.message}`);
    throw e;
  }
}

export function registerAdmin(app: FastifyInstance, deps: Deps & { keys: MasterKeys }) {
  const { db, keys } = deps;

  app.get(
    BASE,
    {
      config: { auth: 'user', scope: 'admin' },
      schema: {
        tags,
        summary: 'The master key in use, the retired ones still loaded, and how many data keys each wraps',
        response: { 200: MasterKeyStatus, ...errorResponses },
      },
    },
    async (req, reply) => {
      requireInstanceAdmin(req);
      noStore(reply);
      return withKeys(async () => {
        const ring: Keyring = await resolveKeyring(keys);
        const source = isHolder(keys) ? (await keys.loaded()).source : 'given';
        const prev = new Set(ring.previous.map((k) => k.id));
        const counts = await countByMasterKey(db);
        return {
          masterKeyId: ring.current.id,
          previousKeyIds: [...prev],
          source,
          dataKeys: [...counts].map(([id, count]) => ({
            masterKeyId: id,
            count,
            loaded:
              id === ring.current.id
                ? ('current' as const)
                : prev.has(id)
                  ? ('previous' as const)
                  : ('unknown' as const),
          })),
        };
      });
    },
  );

  app.post(
    `${BASE}/rotate`,
    {
      config: {
        auth: 'user',
        scope: 'admin',
        audit: 'admin.master_key.rotate',
        rateLimit: { max: 10, timeWindow: '1 minute' },
      },
      schema: {
        tags,
        summary:
          'Embedded mode: generate a new master key, keep the old one in master.key.previous, re-wrap every data key',
        response: { 200: RotationResponse, ...errorResponses },
      },
    },
    async (req, reply) => {
      requireInstanceAdmin(req);
      noStore(reply);
      const r: RotationResult = await withKeys(async () => {
        if (isHolder(keys)) return rotateMasterKeyFile(db, keys);
        // Keys handed in by the embedding code: nothing to generate, re-wrap under the current one.
        const ring = await resolveKeyring(keys);
        const w = await rewrapProjectKeys(db, ring);
        const counts = await countByMasterKey(db);
        let remaining = 0;
        for (const [id, n] of counts) if (id !== ring.current.id) remaining += n;
        return {
          masterKeyId: ring.current.id,
          previousKeyId: null,
          rewrapped: w.rewrapped,
          remainingUnderPrevious: remaining,
          failed: w.failed,
          keptPrevious: [],
        };
      });
      req.audit = {
        ...req.audit,
        targetType: 'master_key',
        targetId: r.masterKeyId,
        details: {
          masterKeyId: r.masterKeyId,
          previousKeyId: r.previousKeyId,
          rewrapped: r.rewrapped,
          remainingUnderPrevious: r.remainingUnderPrevious,
          failed: r.failed.length,
        },
      };
      return r;
    },
  );
}
