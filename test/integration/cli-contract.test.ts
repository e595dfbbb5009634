/**
 * The command line's shared contract, for every subcommand: the global options work after the
 * subcommand too, and with --json an error is one JSON document of one shape,
 * `{"error": {"code", "message", "field"?}}`, on stdout with nothing on stderr (without --json:
 * one line on stderr, nothing on stdout). A database URL's credentials never appear in either.
 * Real processes (bin/highway-docker.js) and, for the not-found paths, a real database.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureBuilt, runCli, type CliResult } from '../support/processes.js';
import { useFreshDatabase } from '../support/fixture.js';

/** An unreachable database whose URL carries a password in every form a URL can. */
const BAD_URL = 'postgresql://hw:pw-in-userinfo@127.0.0.1:1/none?password=pw-in-query&sslpassword=pw-in-sslpassword';
const SECRETS = ['pw-in-userinfo', 'pw-in-query', 'pw-in-sslpassword'];

/**
 * Every subcommand, with arguments that get past its own checks to the database. `{}` marks
 * where the options go: after the subcommand, before a command the container owns.
 */
const ID = randomUUID();
const SUBCOMMANDS: string[][] = [
  ['migrate', '{}'],
  ['run', '{}', 'img', 'echo', 'hi'],
  ['ps', '{}'],
  ['hosts', '{}'],
  ['cancel', ID, '{}'],
  ['gc', '--once', '{}'],
  ['pull', 'img:1', '{}'],
  ['images', '{}'],
  ['exec', '{}', ID, 'echo', 'hi'],
  ['stop', ID, '{}'],
  ['rm', ID, '{}'],
  ['logs', ID, '{}'],
  ['inspect', ID, '{}'],
  ['wait', ID, '{}'],
  ['cp', '{}', `${ID}:/etc/hostname`, '-'],
  ['cron', 'add', '{}', '--schedule', '* * * * *', 'nightly', 'img', 'echo', 'hi'],
  ['cron', 'ls', '{}'],
  ['cron', 'show', 'nightly', '{}'],
  ['cron', 'runs', 'nightly', '{}'],
  ['cron', 'pause', 'nightly', '{}'],
  ['cron', 'resume', 'nightly', '{}'],
  ['cron', 'trigger', 'nightly', '{}'],
  ['cron', 'backfill', 'nightly', '--from', '2026-01-01T00:00:00Z', '--to', '2026-01-02T00:00:00Z', '{}'],
  ['cron', 'rm', 'nightly', '{}'],
];

const withOptions = (args: string[], options: string[]) => args.flatMap((a) => (a === '{}' ? options : [a]));

/** The one JSON error document of a --json command: exactly `{"error": {code, message, field?}}`. */
function jsonError(r: CliResult, what: string): { code: string; message: string; field?: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(r.stdout);
  } catch {
    throw new Error(`${what}: stdout is not one JSON document: ${JSON.stringify(r.stdout)} (stderr ${JSON.stringify(r.stderr)})`);
  }
  expect(Object.keys(doc as object), what).to.deep.equal(['error']);
  const error = (doc as { error: Record<string, unknown> }).error;
  expect(error, what).to.be.an('object');
  expect(Object.keys(error).filter((k) => !['code', 'message', 'field'].includes(k)), what).to.deep.equal([]);
  expect(error['code'], what).to.be.a('string').and.match(/^[a-z_]+$/);
  expect(error['message'], what).to.be.a('string').and.not.equal('');
  if ('field' in error) expect(error['field'], what).to.be.a('string');
  expect(r.stderr, `${what}: stderr`).to.equal('');
  return error as { code: string; message: string; field?: string };
}

describe('command line contract: global options anywhere, one --json error shape', function () {
  this.timeout(120_000);
  let home: string;
  let env: Record<string, string>;

  before(async () => {
    ensureBuilt();
    // No DATABASE_URL and an empty HIGHWAY_HOME: only the flag can name a database.
    home = await mkdtemp(path.join(os.tmpdir(), 'hw-cli-contract-'));
    env = { DATABASE_URL: '', HIGHWAY_HOME: home, HIGHWAY_RECONCILER_ID: `hw-cli-contract-${process.pid}` };
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('the --help of the program lists no subcommand this test does not cover', async () => {
    const names = (help: string) => [...help.slice(help.indexOf('Commands:')).matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]!).filter((n) => n !== 'help');
    const top = names((await runCli(['--help'], env)).stdout);
    const cron = names((await runCli(['cron', '--help'], env)).stdout).map((n) => `cron ${n}`);
    const covered = new Set(SUBCOMMANDS.map((a) => (a[0] === 'cron' ? `cron ${a[1]}` : a[0]!)));
    expect([...top.filter((n) => n !== 'cron' && n !== 'up'), ...cron].filter((n) => !covered.has(n))).to.deep.equal([]);
  });

  it('every subcommand takes --database-url after its name; with --json its error is {"error": {code, message}} on stdout, no password', async () => {
    const results = await Promise.all(
      SUBCOMMANDS.map(async (args) => {
        // migrate and gc have no --json of their own: a usage error, in the same shape.
        const json = !['migrate', 'gc'].includes(args[0]!);
        const r = await runCli(withOptions(args, ['--database-url', BAD_URL, '--json']), env);
        return { args, json, r };
      }),
    );
    for (const { args, json, r } of results) {
      const what = args.join(' ');
      expect(r.code, what).to.equal(125);
      const error = jsonError(r, what);
      if (json) {
        // The URL after the subcommand is the one used: not the embedded default, not ignored.
        expect(error.code, `${what}: ${error.message}`).to.equal('database_unavailable');
        expect(error.message, what).to.contain('hw@127.0.0.1:1/none');
      } else {
        expect(error, what).to.deep.equal({ code: 'usage', message: "unknown option '--json'" });
      }
      for (const secret of SECRETS) expect(r.stdout + r.stderr, what).not.to.contain(secret);
    }
  });

  it('without --json: one line on stderr naming the database (no password), nothing on stdout', async () => {
    const results = await Promise.all(SUBCOMMANDS.map(async (args) => ({ args, r: await runCli(withOptions(args, ['--database-url', BAD_URL]), env) })));
    for (const { args, r } of results) {
      const what = args.join(' ');
      expect(r.code, what).to.equal(125);
      expect(r.stdout, what).to.equal('');
      expect(r.stderr, what).to.match(/^highway-docker: the database at hw@127\.0\.0\.1:1\/none is unreachable \(.*\)[^\n]*\n$/);
      for (const secret of SECRETS) expect(r.stderr, what).not.to.contain(secret);
    }
  });

  describe('with a database', () => {
    const db = useFreshDatabase();

    it('the flag after the subcommand reaches the database (ps, hosts, cron ls), and wins over DATABASE_URL', async () => {
      for (const args of [['ps', '--json'], ['hosts', '--json'], ['cron', 'ls', '--json']]) {
        const after = await runCli([...args, '--database-url', db.url], { ...env, DATABASE_URL: BAD_URL });
        expect(after, args.join(' ')).to.include({ code: 0, stderr: '' });
        expect(JSON.parse(after.stdout), args.join(' ')).to.deep.equal([]);
        const before = await runCli(['--database-url', db.url, ...args], env);
        expect(before, args.join(' ')).to.include({ code: 0, stdout: after.stdout });
      }
    });

    it('errors past the database keep the shape: not_found, invalid_params with its field, usage', async () => {
      const url = ['--database-url', db.url];
      const cases: [string[], Record<string, string>][] = [
        [['inspect', '--json', ID, ...url], { code: 'not_found' }],
        [['stop', '--json', ID, ...url], { code: 'not_found' }],
        [['wait', '--json', ID, ...url], { code: 'not_found' }],
        [['exec', '--json', ...url, ID, 'id'], { code: 'not_found' }],
        [['logs', '--json', '--tail', 'x', ID, ...url], { code: 'invalid_params', field: 'tail' }],
        [['cancel', '--json', ID, ...url], { code: 'not_found' }],
        [['cp', '--json', `${ID}:/etc/hostname`, '-', ...url], { code: 'not_found' }],
        [['cron', 'show', '--json', 'nope', ...url], { code: 'not_found' }],
        [['images', '--json', '--host', 'no-such-host', ...url], { code: 'not_found' }],
        [['run', '--json', '--tenant', 'a b', ...url, 'img'], { code: 'invalid_params', field: '--tenant' }],
        [['ps', '--json', '--bogus', ...url], { code: 'usage' }],
        // One rule for prototype keys: refused by name, never dropped silently (run, exec, cron).
        [['run', '--json', '-e', '__proto__=x', ...url, 'img'], { code: 'invalid_params', field: '-e' }],
        [['exec', '--json', '-e', 'constructor=x', ...url, ID, 'id'], { code: 'invalid_params', field: '-e' }],
      ];
      for (const [args, expected] of cases) {
        const r = await runCli(args, env);
        expect(r.code, args.join(' ')).to.equal(125);
        expect(jsonError(r, args.join(' ')), args.join(' ')).to.include(expected);
      }
      const cron = await runCli(['cron', 'add', '--json', '--schedule', '* * * * *', '--params', '-', ...url, 'protokeys'], env, '{"image": "img", "environment": {"__proto__": "x"}}');
      expect(cron.code).to.equal(125);
      expect(jsonError(cron, 'cron add')).to.include({ code: 'invalid_params', field: 'params.environment.__proto__' });
      expect((await db.pool.query(`SELECT count(*)::int AS n FROM highway.docker_containers`)).rows[0].n, 'nothing stored').to.equal(0);
      expect((await db.pool.query(`SELECT count(*)::int AS n FROM highway.docker_schedules`)).rows[0].n, 'nothing stored').to.equal(0);
    });
  });
});
