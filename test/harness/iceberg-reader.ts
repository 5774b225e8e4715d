import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * An independent reader of the iceberg sink's tables: icebird (a JavaScript Iceberg reader built on hyparquet,
 * which applies position and equality deletes by sequence number as the Iceberg spec says). It opens tables by
 * URL through `fetch`; Node's fetch has no `file:` scheme, so `file:` URLs are answered from the disk here
 * (the whole file, status 200, which hyparquet takes in place of a range). Nothing else is changed.
 */
let installed = false;
function installFileFetch(): void {
  if (installed) return;
  installed = true;
  const networkFetch = globalThis.fetch;
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith('file:')) return networkFetch(input, init);
    try {
      const bytes = await readFile(fileURLToPath(url));
      return new Response(init?.method === 'HEAD' ? null : bytes, {
        status: 200,
        headers: { 'Content-Length': String(bytes.length) },
      });
    } catch {
      return new Response(null, { status: 404, statusText: 'Not Found' });
    }
  };
}

/**
 * The rows of the table at `location` (a directory) as icebird reads its current snapshot; [] without data.
 * `metadataFileName`: the metadata file a catalog names (a JDBC catalog's row), instead of `version-hint.text`.
 */
export async function readIcebergTable(
  location: string,
  metadataFileName?: string,
): Promise<Record<string, unknown>[]> {
  installFileFetch();
  const { icebergMetadata, icebergRead } = await import('icebird');
  const tableUrl = pathToFileURL(location).href;
  const metadata = await icebergMetadata({ tableUrl, ...(metadataFileName === undefined ? {} : { metadataFileName }) });
  try {
    return await icebergRead({ tableUrl, metadata });
  } catch (error) {
    // icebird refuses a snapshot without data files; for the test that is an empty table.
    if (error instanceof Error && /No data manifest files|No current snapshot/.test(error.message)) return [];
    throw error;
  }
}

/**
 * Rows as text for comparing with the source: `columns` of each row in that order, sorted. icebird gives
 * 64-bit integers as bigints, decimals as JavaScript numbers and timestamps as Dates (milliseconds), so a
 * caller renders those columns with `render` to the precision icebird keeps.
 */
export async function icebergRowsText(
  location: string,
  columns: readonly string[],
  render: Readonly<Record<string, (value: unknown) => string>> = {},
  metadataFileName?: string,
): Promise<(string | null)[][]> {
  const rows = await readIcebergTable(location, metadataFileName);
  const text = rows.map((row) =>
    columns.map((name) => {
      const value = row[name];
      if (value === null || value === undefined) return null;
      const custom = render[name];
      if (custom !== undefined) return custom(value);
      if (value instanceof Date) return value.toISOString().replace('T', ' ').replace('Z', '');
      if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
      switch (typeof value) {
        case 'string':
          return value;
        case 'number':
        case 'bigint':
        case 'boolean':
          return String(value);
        default:
          return JSON.stringify(value);
      }
    }),
  );
  return text.sort((a, b) => compareTextRows(a, b));
}

/** Orders rows column by column, numerically where both values are integers (as source queries order ids). */
export function compareTextRows(a: readonly (string | null)[], b: readonly (string | null)[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? '';
    const y = b[i] ?? '';
    if (x === y) continue;
    if (/^-?\d+$/.test(x) && /^-?\d+$/.test(y)) return BigInt(x) < BigInt(y) ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/** Paths of the data files (not delete files) of the table's current snapshot, as icebird lists them. */
export async function icebergDataFiles(location: string): Promise<string[]> {
  installFileFetch();
  const { icebergMetadata, icebergManifests } = await import('icebird');
  const metadata = await icebergMetadata({ tableUrl: pathToFileURL(location).href });
  const manifests = await icebergManifests(metadata);
  return manifests
    .flatMap((m) => m.entries)
    .filter((e) => e.status !== 2 && !e.data_file.content)
    .map((e) => fileURLToPath(e.data_file.file_path));
}
