/**
 * The number after `name` on this process's command line (`--rows 1000000`), or `fallback` when `name` is not there;
 * anything else after it is an error that says so.
 */
export function numberOption(name: string, fallback: number, argv: readonly string[] = process.argv.slice(2)): number {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(argv[i + 1]);
  if (argv[i + 1] === undefined || argv[i + 1] === '' || !Number.isFinite(value)) {
    throw new Error(`${name} takes a number, not ${argv[i + 1] === undefined ? 'nothing' : `'${argv[i + 1]}'`}`);
  }
  return value;
}
