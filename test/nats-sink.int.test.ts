import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../src/core/change-event.js';
import { unpackEvents } from '../src/core/packed-rows.js';
import type { Sink } from '../src/core/sink.js';
import { natsSink } from '../src/connectors/nats/nats-sink.js';
import { natsSource } from '../src/connectors/nats/nats-source.js';
import { silentLogger } from '../src/runtime/logger.js';
import { readStream, startNatsServer, type StreamMessage, type TestNatsServer } from './harness/nats-server.js';
import {
  allTypes,
  allTypesFull,
  allTypesSpecial,
  caught,
  checkpoint,
  ins,
  schemaEvent,
  student,
  studentAfterChanges,
  studentChanges,
  studentLoad,
} from './harness/sink-events.js';
import { tableId, type TableSchema } from '../src/core/table-schema.js';

describe('nats sink (JetStream)', () => {
  let server: TestNatsServer;
  const sinks: Sink[] = [];
  const sinkOf = (stream: string, extra: Record<string, string | number | boolean> = {}): Sink => {
    const sink = natsSink({ servers: server.url, stream, ...extra }, { log: silentLogger, pipelineName: stream });
    sinks.push(sink);
    return sink;
  };
  const table = (namespace: string): TableSchema => ({ ...student, id: tableId(namespace, 'student') });

  /** Every message on `<stream>.*.*` (the data subjects), read with a plain consumer and JSON.parse. */
  const readAll = (stream: string, filter = `${stream}.*.*`): Promise<StreamMessage[]> =>
    readStream(server.url, stream, filter);
  /** Folds Debezium envelopes by key into the table they describe (what an upsert consumer would hold). */
  const fold = (messages: readonly StreamMessage[]): unknown[][] => {
    const rows = new Map<number, unknown[]>();
    for (const m of messages) {
      if (!m.value) continue;
      const payload = (m.value['payload'] ?? m.value) as {
        op: string;
        before: Record<string, unknown> | null;
        after: Record<string, unknown> | null;
      };
      if (payload.op === 'd') rows.delete(payload.before!['id'] as number);
      else rows.set(payload.after!['id'] as number, Object.values(payload.after!));
    }
    return [...rows.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r);
  };

  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    for (const sink of sinks) await sink.close().catch(() => undefined);
    await server?.stop();
  });

  it('publishes each change as Debezium envelope on its table subject, with tombstones, and keeps the checkpoint in the stream', async () => {
    const sink = sinkOf('s1');
    expect(await sink.open('s1')).toBeNull();
    const t = table('shop');
    await sink.write([schemaEvent(t), ...studentLoad(t)]);
    await sink.commit(checkpoint('s1', { step: 1 }));
    await sink.write(studentChanges(t));
    expect(sink.pending()).toBe(7);
    const second = checkpoint('s1', { step: 2 });
    await sink.commit(second);
    const seen = await readAll('s1');
    expect(new Set(seen.map((m) => m.subject))).toEqual(new Set(['s1.shop.student']));
    expect(seen.filter((m) => m.value === null)).toHaveLength(1); // the tombstone after deleting 5
    expect(fold(seen)).toEqual(studentAfterChanges);
    await sink.close();
    expect(await sinkOf('s1').open('s1')).toEqual(second);
  });

  it('after a crash between publish and checkpoint, the next writer returns the last checkpoint and leaves no duplicates', async () => {
    const t = table('crash');
    const a = sinkOf('s2');
    await a.open('s2');
    await a.write([schemaEvent(t), ...studentLoad(t)]);
    const committed = checkpoint('s2', { step: 1 });
    await a.commit(committed);
    await a.write(studentChanges(t)); // published, never committed: the process "dies" here
    await a.close();
    expect((await readAll('s2')).length).toBeGreaterThan(4);

    const b = sinkOf('s2');
    expect(await b.open('s2')).toEqual(committed);
    expect(fold(await readAll('s2'))).toEqual(studentLoad(t).map((e) => (e as unknown as { after: unknown[] }).after));
    await b.write([schemaEvent(t), ...studentChanges(t)]); // the replay from the checkpoint
    await b.commit(checkpoint('s2', { step: 2 }));
    const seen = await readAll('s2');
    expect(seen).toHaveLength(4 + 7 + 1); // four loads, seven changes, one tombstone: each once
    expect(fold(seen)).toEqual(studentAfterChanges);
  });

  it('fences an older writer: after a second writer opens, the first cannot publish or commit', async () => {
    const t = table('fence');
    const a = sinkOf('s3');
    await a.open('s3');
    await a.write([schemaEvent(t), ...studentLoad(t)]);
    await a.commit(checkpoint('s3', { step: 1 }));
    const b = sinkOf('s3');
    await b.open('s3');
    const error = await caught(
      (async () => {
        await a.write(studentChanges(t));
        await a.commit(checkpoint('s3', { step: 99 }));
      })(),
    );
    expect(error.code).toBe('SINK_FENCED');
    await b.write([schemaEvent(t), ...studentChanges(t)]);
    const last = checkpoint('s3', { step: 2 });
    await b.commit(last);
    expect(fold(await readAll('s3'))).toEqual(studentAfterChanges);
    expect(await sinkOf('s3').open('s3')).toEqual(last);
  });

  it('spreads a table over key-hash partitions, each key on one subject', async () => {
    const t = table('parts');
    const sink = sinkOf('s4', { partitions: 4 });
    await sink.open('s4');
    const rows = Array.from({ length: 200 }, (_, i) => ins(t, [i, `n${i}`, i, '1']));
    await sink.write([
      schemaEvent(t),
      ...rows,
      ...rows
        .slice(0, 50)
        .map((e) => ({ ...(e as object), op: 'update', before: (e as { after: unknown }).after }) as ChangeEvent),
    ]);
    await sink.commit(checkpoint('s4', { step: 1 }));
    const seen = await readAll('s4', 's4.*.*.*');
    const subjectsOfKey = new Map<number, Set<string>>();
    for (const m of seen) {
      const id = (m.value!['payload'] as { after: { id: number } }).after.id;
      subjectsOfKey.set(id, (subjectsOfKey.get(id) ?? new Set()).add(m.subject));
    }
    expect([...subjectsOfKey.values()].every((s) => s.size === 1)).toBe(true);
    expect(new Set(seen.map((m) => m.subject))).toEqual(new Set([0, 1, 2, 3].map((p) => `s4.parts.student.${p}`)));
  });

  it('is read back by the nats source exactly: every canonical type, committed batches only', async () => {
    const sink = sinkOf('s5', { 'debezium-json.bigint.unsigned.handling.mode': 'precise' });
    await sink.open('s5');
    const t: TableSchema = { ...allTypes, id: tableId('types', 'all_types') };
    await sink.write([schemaEvent(t), ins(t, allTypesFull), ins(t, allTypesSpecial)]);
    await sink.commit(checkpoint('s5', { step: 1 }));
    await sink.write([ins(t, [5n, ...allTypesSpecial.slice(1)])]); // never committed
    await sink.close();

    const source = natsSource(
      { servers: server.url, stream: 's5' },
      { log: silentLogger, pipelineName: 'read-s5', parallelism: 1, include: [], exclude: [] },
    );
    await source.open(null);
    const events: ChangeEvent[] = [];
    let position: unknown;
    for await (const batch of source.batches()) {
      events.push(...unpackEvents(batch.events));
      position = batch.position;
      if (batch.caughtUp) break;
    }
    await source.close();
    expect(events.map((e) => e.kind)).toEqual(['schema', 'data', 'data']);
    const same = (v: unknown): unknown => (typeof v === 'bigint' || typeof v === 'number' ? String(v) : v);
    const rows = events.flatMap((e) => (e.kind === 'data' ? [e.after!.map(same)] : []));
    expect(rows).toEqual([allTypesFull.map(same), allTypesSpecial.map(same)]);
    expect(position).toMatchObject({ stream: 's5' });
  });

  it('a partition reader refuses a committed position where the stream no longer holds its checkpoint message (messages lost, numbers reused)', async () => {
    const sink = sinkOf('s6', { partitions: 2 });
    await sink.open('s6');
    const t = table('lost');
    await sink.write([schemaEvent(t), ...studentLoad(t)]);
    await sink.commit(checkpoint('s6', { step: 1 }));
    await sink.close();
    const messages = await readAll('s6', 's6.>');
    const checkpointSeq = messages.find((m) => m.subject === 's6._tributary_checkpoint')!.seq;
    const dataSeq = messages.find((m) => m.subject.split('.').length > 2)!.seq;
    const open = async (seq: number) => {
      const source = natsSource(
        { servers: server.url, stream: 's6', partition: 0 },
        { log: silentLogger, pipelineName: 'read-s6', parallelism: 1, include: [], exclude: [] },
      );
      try {
        await source.open({ stream: 's6', seq });
      } finally {
        await source.close();
      }
    };
    await open(checkpointSeq); // its own checkpoint message: reads on
    // A data message, or none at all, where the partition committed a checkpoint message: the stream lost what
    // it had acknowledged (a JetStream server that was behind became the leader) and numbered others in its place.
    for (const seq of [dataSeq, checkpointSeq + 100]) {
      const error = await caught(open(seq));
      expect(error.code).toBe('PIPELINE_STATE_MISMATCH');
      expect(error.retryable).toBe(false);
      expect(error.message).toMatch(
        new RegExp(`sequence ${seq} of stream s6, and the stream now holds (a message on s6\\.|no message)`),
      );
    }
  });
});
