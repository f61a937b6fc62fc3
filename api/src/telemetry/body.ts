/**
 * Raw ingest bodies: gzip is undone here with a cap on the decompressed size (a small gzip bomb must
 * not take the server's memory), then JSON arrays or NDJSON become items.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { AppError } from '@peep/pkg';
import type { FastifyRequest } from 'fastify';

const gunzip = promisify(zlib.gunzip);
/** A gzip body may expand to this many times the body limit. */
export const EXPANSION = 4;

export function mediaType(req: FastifyRequest): string {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

export async function decodedBody(req: FastifyRequest, bodyLimit: number): Promise<Buffer> {
  const body = req.body;
  const buf = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
  const enc = (req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  if (enc === 'identity' || enc === '') return buf;
  if (enc !== 'gzip')
    throw new AppError(
      'unsupported_encoding',
      `Content-Encoding "${enc}" is not supported; use gzip or none.`,
    );
  try {
    return await gunzip(buf, { maxOutputLength: bodyLimit * EXPANSION });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE')
      throw new AppError(
        'payload_too_large',
        `The body decompresses to more than ${bodyLimit * EXPANSION} bytes.`,
      );
    throw new AppError('invalid_payload', 'The body is not valid gzip.');
  }
}

/** Items of a native ingest body: a JSON array (`application/json`) or NDJSON. */
export function parseItems(buf: Buffer, type: string): unknown[] {
  if (type === 'application/json') {
    let v: unknown;
    try {
      v = JSON.parse(buf.toString('utf8'));
    } catch (e) {
      throw new AppError('invalid_payload', `The body is not valid JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(v)) throw new AppError('invalid_payload', 'The body must be a JSON array of items.');
    return v;
  }
  if (type === 'application/x-ndjson' || type === 'application/jsonl') {
    const out: unknown[] = [];
    const lines = buf.toString('utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = (lines[i] as string).trim();
      if (line === '') continue;
      try {
        out.push(JSON.parse(line));
      } catch {
        throw new AppError('invalid_payload', `Line ${i + 1} is not valid JSON.`, { line: i + 1 });
      }
    }
    return out;
  }
  throw new AppError(
    'unsupported_media_type',
    'Send application/json (an array of items) or application/x-ndjson (one item per line).',
  );
}
