import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/runtime/logger.js';
import { PipelineMetrics } from '../../src/runtime/pipeline-metrics.js';
import { startDashboardServer, type DashboardServer } from '../../src/ui/dashboard-server.js';
import { httpToken, isLoopbackHost } from '../../src/ui/http-access.js';

/** Issue 18: the dashboard and /metrics need a token beyond loopback; with one, every page but the probes needs it. */
describe('the HTTP token', () => {
  const token = 'tok-3b9f0c1d2e4a5b6c7d8e';

  it('loopback needs none; any other address refuses to start without one, naming the fix', () => {
    for (const host of ['127.0.0.1', '127.0.0.53', 'localhost', '::1', '[::1]'])
      expect(httpToken(host, undefined, {})).toBeUndefined();
    for (const host of ['0.0.0.0', '::', '10.1.2.3', 'cdc.internal']) {
      expect(isLoopbackHost(host)).toBe(false);
      expect(() => httpToken(host, undefined, {})).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID', hint: expect.stringContaining('TRIBUTARY_HTTP_TOKEN') }),
      );
    }
    expect(httpToken('0.0.0.0', undefined, { TRIBUTARY_HTTP_TOKEN: token })).toBe(token);
    expect(httpToken('0.0.0.0', token, {})).toBe(token);
    expect(() => httpToken('0.0.0.0', 'short', {})).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  describe('a server with a token', () => {
    let server: DashboardServer;
    beforeAll(async () => {
      server = await startDashboardServer({
        metrics: new PipelineMetrics('p'),
        host: '127.0.0.1',
        port: 0,
        pipelineFile: 'source: {}\n',
        log: createLogger({ write: () => {} }),
        token,
      });
    });
    afterAll(async () => {
      await server.close();
    });

    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(new URL(path, server.url), { headers, redirect: 'manual' });

    it('refuses every page without it, and with a wrong one', async () => {
      for (const path of ['/', '/metrics', '/api/status', '/dashboard.js']) {
        expect((await get(path)).status).toBe(401);
        expect((await get(path, { authorization: 'Bearer wrong-token-0000000000' })).status).toBe(401);
        expect((await get(`${path}?token=wrong-token-0000000000`)).status).toBe(401);
      }
    });

    it('serves them with Authorization: Bearer; the probes stay open', async () => {
      const metrics = await get('/metrics', { authorization: `Bearer ${token}` });
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('tributary_');
      expect((await get('/api/status', { authorization: `Bearer ${token}` })).status).toBe(200);
      expect((await get('/healthz')).status).toBe(200);
    });

    it('?token= sets an HttpOnly SameSite cookie and redirects to the page without the token', async () => {
      const response = await get('/api/status?x=1&token=' + token);
      expect(response.status).toBe(303);
      expect(response.headers.get('location')).toBe('/api/status?x=1');
      const cookie = response.headers.get('set-cookie') ?? '';
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Strict/);
      const page = await get('/', { cookie: cookie.split(';')[0]! });
      expect(page.status).toBe(200);
      expect(page.headers.get('x-frame-options')).toBe('DENY');
    });
  });
});
