/**
 * A throwaway nginx prefix for the suites that run Debian's nginx: `nginx/peep.conf` as shipped,
 * listening on a loopback port, proxying to a test upstream and logging `peep_json` to `accessLog`,
 * inside a minimal `nginx.conf` whose temp paths, pid and error log all live in `dir`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

/** Replaces `from` with `to` in `text`, failing when `from` is not there exactly once. */
function replaceOnce(text: string, from: RegExp, to: string): string {
  const n = [...text.matchAll(new RegExp(from.source, 'gm'))].length;
  assert.equal(n, 1, `nginx/peep.conf: expected one match of ${from}, found ${n}`);
  return text.replace(new RegExp(from.source, 'm'), to);
}

/** Writes the prefix and returns the arguments that run nginx on it (`-p dir -e ... -c ...`). */
export function writeNginxPrefix(
  root: string,
  dir: string,
  o: { port: number; upstreamPort: number; accessLog: string },
): string[] {
  let conf = fs.readFileSync(path.join(root, 'nginx/peep.conf'), 'utf8');
  conf = replaceOnce(conf, /^\s*listen 80;$/, `  listen 127.0.0.1:${o.port};`);
  conf = replaceOnce(conf, /^\s*listen \[::\]:80;$/, '');
  conf = replaceOnce(conf, /^\s*server 127\.0\.0\.1:7070;$/, `  server 127.0.0.1:${o.upstreamPort};`);
  conf = replaceOnce(conf, /access_log \S+ peep_json;/, `access_log ${o.accessLog} peep_json;`);
  fs.writeFileSync(path.join(dir, 'peep.conf'), conf);
  for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(dir, t));
  fs.writeFileSync(
    path.join(dir, 'nginx.conf'),
    `${process.getuid?.() === 0 ? 'user root root;\n' : ''}daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 128; }
http {
  default_type application/octet-stream;
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${dir}/peep.conf;
}
`,
  );
  return ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf')];
}
