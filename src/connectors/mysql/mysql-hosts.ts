/**
 * The servers of a replication topology the source may read: `hostname: db1,db2,db3` (Flink CDC's form, every
 * host on `port`) or `hosts: db1:3306,db2:3307` (each with its own port). Pure.
 */
export interface MysqlHost {
  readonly host: string;
  readonly port: number;
}

/** `host:port` (IPv6 addresses in brackets), for logs and the checkpoint. */
export function formatHost(member: MysqlHost): string {
  return member.host.includes(':') ? `[${member.host}]:${member.port}` : `${member.host}:${member.port}`;
}

/**
 * The hosts of a comma-separated list; an entry without a port gets `defaultPort`. Throws an Error naming the
 * bad entry.
 */
export function parseHostList(text: string, defaultPort: number): MysqlHost[] {
  const hosts: MysqlHost[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    const plain = /^([^:\s]+)(?::(\d+))?$/.exec(entry);
    const bareV6 = entry.split(':').length > 2 && !entry.startsWith('[') ? entry : undefined;
    const host = bracketed?.[1] ?? bareV6 ?? plain?.[1];
    const port = bareV6 ? undefined : (bracketed?.[2] ?? plain?.[2]);
    if (host === undefined) throw new Error(`'${entry}' is not a host or host:port`);
    const number = port === undefined ? defaultPort : Number(port);
    if (!Number.isInteger(number) || number < 1 || number > 65535) {
      throw new Error(`'${entry}': port ${port} is not a TCP port`);
    }
    const member = { host, port: number };
    if (!hosts.some((h) => h.host === member.host && h.port === member.port)) hosts.push(member);
  }
  if (hosts.length === 0) throw new Error('no host given');
  return hosts;
}

/** The option check of `hosts` / `hostname`: a problem in words, or undefined. */
export function hostListProblem(value: string): string | undefined {
  try {
    parseHostList(value, 3306);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** The hosts in the order to try them: the one a checkpoint was read from first (file/position stays valid there). */
export function hostsToTry(hosts: readonly MysqlHost[], preferred: string | undefined): MysqlHost[] {
  const first = hosts.find((h) => formatHost(h) === preferred);
  return first === undefined ? [...hosts] : [first, ...hosts.filter((h) => h !== first)];
}
