import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TributaryError } from '../core/errors.js';

/** The environment variable that gives the HTTP token when `pipeline.http.token` is not written. */
export const HTTP_TOKEN_ENV = 'TRIBUTARY_HTTP_TOKEN';

/** The cookie a browser gets after opening the dashboard with `?token=…`. */
const COOKIE = 'tributary_token';

/** Paths served without the token: liveness and readiness probes (they tell only whether the pipeline runs). */
const OPEN_PATHS = new Set(['/healthz', '/readyz']);

/** Whether `host` is a loopback address or name: only this machine can reach a server bound to it. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./.test(bare);
  return false;
}

/**
 * The token the HTTP server requires, or undefined for none. A server bound beyond loopback must have one:
 * CONFIG_INVALID otherwise (`run` stops before it starts), since the dashboard shows the tables, the positions and
 * the pipeline file.
 */
export function httpToken(host: string, configured: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const token = configured !== undefined && configured !== '' ? configured : env[HTTP_TOKEN_ENV];
  if (token !== undefined && token !== '') {
    if (token.length < 16) {
      throw new TributaryError('CONFIG_INVALID', 'the HTTP token is shorter than 16 characters', {
        hint: 'use a random token, e.g. `openssl rand -hex 24`, in pipeline http.token (or http.token-file) or TRIBUTARY_HTTP_TOKEN',
      });
    }
    return token;
  }
  if (isLoopbackHost(host)) return undefined;
  throw new TributaryError(
    'CONFIG_INVALID',
    `the HTTP server would listen on ${host}, beyond this machine, without a token`,
    {
      hint: `set a token (pipeline http.token: \${TOKEN}, http.token-file: /run/secrets/…, or the environment variable ${HTTP_TOKEN_ENV}; e.g. \`openssl rand -hex 24\`), or listen on 127.0.0.1 (http.host) behind a proxy of your own`,
    },
  );
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * Checks a request against the token: `Authorization: Bearer <token>`, or the cookie set by opening any page with
 * `?token=<token>` (answered with a redirect to the same page without it, so the token leaves the address bar and
 * the history). Answers 401 itself and returns false when the request may not pass. Comparisons take constant time.
 */
export function authorize(req: IncomingMessage, res: ServerResponse, token: string | undefined): boolean {
  if (token === undefined) return true;
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (OPEN_PATHS.has(url.pathname)) return true;
  const expected = digest(token);
  const matches = (candidate: string | undefined) =>
    candidate !== undefined && timingSafeEqual(digest(candidate), expected);

  const fromQuery = url.searchParams.get('token');
  if (fromQuery !== null && matches(fromQuery)) {
    url.searchParams.delete('token');
    res.writeHead(303, {
      location: `${url.pathname}${url.search}`,
      'set-cookie': `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`,
      'cache-control': 'no-store',
    });
    res.end();
    return false;
  }
  const header = req.headers.authorization;
  const bearer = header !== undefined && /^Bearer /i.test(header) ? header.slice(7).trim() : undefined;
  if (matches(bearer) || matches(cookie(req, COOKIE))) return true;
  res.writeHead(401, {
    'content-type': 'text/plain',
    'www-authenticate': 'Bearer realm="tributary"',
    'cache-control': 'no-store',
  });
  res.end('a token is required: send Authorization: Bearer <token>, or open the page once with ?token=<token>\n');
  return false;
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) {
      try {
        return decodeURIComponent(rest.join('='));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
