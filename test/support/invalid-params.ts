/**
 * fast-check generators of run parameter sets that MUST be rejected.
 *
 * Each generated case is a valid base set with exactly one defect injected: a bad
 * value for one parameter, or a contradiction between parameters. `field` is the
 * top-level parameter the ValidationError must name. Integration tests reuse this to
 * check that a rejected run leaves no container and no row behind.
 */
import fc from 'fast-check';

export interface InvalidParamsCase {
  params: Record<string, unknown>;
  /** The top-level parameter the error's `field` must start with. */
  field: string;
}

/** Parameters that are valid on their own and do not interact with any injected defect. */
const validBase = fc.record(
  {
    command: fc.constantFrom('echo hi', ['sh', '-c', 'exit 0'], "sh -c 'echo \"quoted\"'"),
    environment: fc.constantFrom({ A: '1', B: 2, C: true }, ['A=1', 'B=two=2'], { TOKEN: { secret: 'api-token' } }),
    labels: fc.constantFrom({ team: 'data' }, {}),
    working_dir: fc.constantFrom('/work', '/'),
    user: fc.constantFrom('1000', '1000:1000', 'nobody'),
    cpu_limit: fc.constantFrom(0.5, 2),
    pids_limit: fc.constantFrom(64, -1),
    timeout: fc.constantFrom(30, '1m30s'),
    read_only: fc.boolean(),
    init: fc.boolean(),
    tmpfs: fc.constantFrom({ '/tmp': 'size=64m' }, ['/run']),
    max_output_bytes: fc.constantFrom(0, '64k', 1048576),
    stop_signal: fc.constantFrom('TERM', 'SIGINT', 9),
  },
  { requiredKeys: [] },
);

/** [parameter, arbitrary of values that are invalid for it on their own]. */
const BAD_VALUES: [string, fc.Arbitrary<unknown>][] = [
  ['image', fc.constantFrom('', 'has space', 'UPPER/case', 'a::b', 42, null, ['alpine'])],
  ['command', fc.constantFrom(42, [1, 2], 'sh -c "unbalanced', { cmd: 'x' }, 'ends with \\')],
  ['entrypoint', fc.constantFrom(true, [null], "'open")],
  ['environment', fc.constantFrom({ '1BAD': 'x' }, { 'A B': 'x' }, ['NOEQUALS'], ['=v'], { K: { secret: '' } }, { K: [1] }, { K: { secret: 'x', extra: 1 } }, 'A=1')],
  ['working_dir', fc.constantFrom('relative/dir', '', 7)],
  ['user', fc.constantFrom('', 'a b', 'root:', -1, ':1000')],
  ['labels', fc.constantFrom({ 'highway.managed': 'false' }, { 'HIGHWAY.x': 'y' }, { k: 1 }, ['a=b'])],
  ['hostname', fc.constantFrom('-bad', 'has space', 'a'.repeat(64), 12)],
  ['timeout', fc.oneof(fc.constantFrom(0, -1, 'forever', '10x', 7 * 86400 + 1), fc.integer({ max: 0 }))],
  ['pull_policy', fc.constantFrom('sometimes', 'Always', true)],
  ['auto_remove', fc.constantFrom('yes', 1)],
  ['privileged', fc.constantFrom('true', 0)],
  ['cap_add', fc.constantFrom(['NOT_A_CAP'], 'NET_ADMIN', [1], ['CAP_'])],
  ['cap_drop', fc.constantFrom(['BOGUS'], 'ALL')],
  ['memory_limit', fc.oneof(fc.constantFrom('12q', 'abc', '-5m', true, '1 gigabyte', 1024, '5m'), fc.integer({ max: -1 }))],
  ['cpu_limit', fc.oneof(fc.constantFrom(0, 'x', '1 cpu', 0.001), fc.double({ max: 0, noNaN: true }))],
  ['pids_limit', fc.constantFrom(0, -2, 1.5, '100')],
  ['shm_size', fc.constantFrom(0, '0', 'big')],
  ['tmpfs', fc.constantFrom({ relative: '' }, ['tmp'], { '/tmp': 'size 64m' }, 'tmp')],
  [
    'volumes',
    fc.constantFrom(
      ['./rel:/in'],
      ['/host:relative'],
      ['/h:/in:xx'],
      ['/h'],
      ['/h:/in:ro:extra'],
      { '/h': { bind: 'rel' } },
      { '/h': '/in' },
      ['/a:/x', '/b:/x'],
      ['/a:/'],
      [{ source: '/a', target: '/b', type: 'volume' }],
    ),
  ],
  ['ports', fc.constantFrom({ notaport: 1 }, { '8080/tcp': 70000 }, { '8080/foo': 1 }, { 0: 1 }, { 80: 'not-an-ip:80' }, { 80: ['nope', 1] }, [80])],
  ['network', fc.constantFrom('host', 'none', 'bad name', '')],
  ['network_mode', fc.constantFrom('bogus', 'container:', 'HOST')],
  ['dns', fc.constantFrom(['not-an-ip'], '8.8.8.8', ['8.8.8.8', 'x'])],
  ['extra_hosts', fc.constantFrom(['nocolon'], { host: 'not-an-ip' }, ['bad host:1.2.3.4'])],
  ['devices', fc.constantFrom(['dev/fuse'], ['/dev/fuse:/dev/fuse:rwx'], ['/dev/a:/b:r:w'], '/dev/fuse')],
  ['oom_kill_disable', fc.constantFrom('yes')],
  [
    'ulimits',
    fc.oneof(
      fc
        .tuple(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: 1_000_000 }))
        .filter(([soft, hard]) => soft > hard)
        .map(([soft, hard]) => ({ nofile: { soft, hard } })),
      fc.constantFrom({ nofiles: 1 }, { nofile: -2 }, [{ name: 'nofile', soft: 2, hard: 1 }], [{ name: 'nproc', soft: 1 }, { name: 'nproc', soft: 2 }], { nofile: { soft: 1.5 } }),
    ),
  ],
  ['log_config', fc.constantFrom({ type: '' }, { config: {} }, 'json-file', { type: 'json-file', config: { a: { b: 1 } } })],
  ['healthcheck', fc.constantFrom({ test: [] }, { test: ['BOGUS', 'x'] }, { test: ['CMD'] }, { test: 'true', interval: 'soon' }, { test: 'true', retries: -1 }, { test: 'true', interval: 0.0001 }, {})],
  ['restart_policy', fc.constantFrom({ name: 'sometimes' }, 'always', { name: 'on-failure', maximum_retry_count: -1 })],
  ['stop_signal', fc.constantFrom('SIGFOO', 'KILLME', 0, 999, '')],
  ['stop_grace_period', fc.constantFrom(-1, 'a while')],
  ['gc_protect_seconds', fc.constantFrom(-5, 'long')],
  ['max_output_bytes', fc.oneof(fc.integer({ min: 64 * 1024 * 1024 + 1 }), fc.constantFrom(-1, '65m', 'lots'))],
];

// ---------------------------------------------------------------- extreme numbers (issue 16 item 6)

const INT32_MAX = 2 ** 31 - 1;
/** Docker's durations are int64 nanoseconds: 9223372036 s is the most; this is past it in seconds and in nanoseconds. */
const PAST_INT64_NS = 1e19;
/** Strings that read as Infinity when turned into a number. */
const INFINITE_DIGITS = '9'.repeat(400);
/** Numbers no parameter takes: huge, NaN-producing, infinite (a library caller can pass NaN and Infinity; JSON cannot). */
const nonFinite = fc.constantFrom(NaN, Infinity, -Infinity);
const huge = fc.constantFrom(1e30, 1e300, Number.MAX_VALUE, 2 ** 63, 2 ** 64, PAST_INT64_NS);

/**
 * [parameter, huge / NaN-producing / just-past-the-bound values]: every numeric field. Each must be
 * refused naming its field, before anything is stored (they used to reach Docker as a 500 the
 * client retried for ever, or a date that failed every later pass).
 */
export const EXTREME_BAD_VALUES: [string, fc.Arbitrary<unknown>][] = [
  ['timeout', fc.oneof(huge, nonFinite, fc.constantFrom(INFINITE_DIGITS, `${INFINITE_DIGITS}s`, 7 * 86400 + 0.001, -0))],
  ['stop_grace_period', fc.oneof(huge, nonFinite, fc.constantFrom(INFINITE_DIGITS, `${INFINITE_DIGITS}h`, INT32_MAX + 1, 1e10))],
  ['gc_protect_seconds', fc.oneof(huge, nonFinite, fc.constantFrom(INFINITE_DIGITS, INT32_MAX + 1, '100000000000d'))],
  ['placement_timeout', fc.oneof(huge, nonFinite, fc.constantFrom(INFINITE_DIGITS, INT32_MAX + 1))],
  ['memory_limit', fc.oneof(huge, nonFinite, fc.constantFrom(INFINITE_DIGITS, '99999999999999t', 2 ** 53, 6 * 1024 * 1024 + 0.5))],
  ['shm_size', fc.oneof(huge, nonFinite, fc.constantFrom(INFINITE_DIGITS, -0, 2 ** 53, 1.5))],
  ['max_output_bytes', fc.oneof(huge, nonFinite, fc.constantFrom(INFINITE_DIGITS, 0.5))],
  ['max_result_bytes', fc.oneof(huge, nonFinite, fc.constantFrom(INFINITE_DIGITS, 0.5, 0, 64 * 1024 * 1024 + 1))],
  ['cpu_limit', fc.oneof(huge, nonFinite, fc.constantFrom(INFINITE_DIGITS, 9_223_372_037, 1e10))],
  ['pids_limit', fc.oneof(huge, nonFinite, fc.constantFrom(4_194_305, 2 ** 53, -0, 64.5))],
  ['user', fc.oneof(huge, nonFinite, fc.constantFrom(INT32_MAX + 1, 4_294_967_294, '4294967295', '1000:2147483648', 1.5))],
  ['ulimits', fc.oneof(huge, nonFinite).chain((n) => fc.constantFrom({ nofile: n }, { nofile: { soft: 1024, hard: n } }, [{ name: 'nproc', soft: n }]))],
  [
    'healthcheck',
    fc.oneof(huge, nonFinite, fc.constant(INFINITE_DIGITS)).chain((n) =>
      fc.constantFrom({ test: 'true', interval: n }, { test: 'true', timeout: n }, { test: 'true', start_period: n }, { test: 'true', retries: n }),
    ),
  ],
  ['healthcheck', fc.constantFrom({ test: 'true', retries: INT32_MAX + 1 }, { test: 'true', timeout: PAST_INT64_NS }, { test: 'true', retries: 2.5 })],
  ['restart_policy', fc.oneof(huge, nonFinite, fc.constantFrom(INT32_MAX + 1, 1.5)).map((n) => ({ name: 'on-failure', maximum_retry_count: n }))],
  ['stop_signal', fc.oneof(huge, nonFinite, fc.constantFrom(1.5, -0))],
  ['ports', fc.oneof(huge, nonFinite).map((n) => ({ '8080/tcp': n }))],
  ['environment', nonFinite.map((n) => ({ N: n }))],
  // docker-py's other numeric arguments (issue 16 item 1): the same refusals.
  ['mem_limit', fc.oneof(huge, nonFinite, fc.constantFrom(INFINITE_DIGITS, 2 ** 53))],
  ['nano_cpus', fc.oneof(huge, nonFinite, fc.constantFrom(INFINITE_DIGITS, 0.5, -1))],
  ['mem_reservation', fc.oneof(huge, nonFinite, fc.constantFrom(INFINITE_DIGITS, 2 ** 53))],
  ['memswap_limit', fc.oneof(huge, nonFinite, fc.constantFrom(INFINITE_DIGITS, 2 ** 53, -2))],
  ['mem_swappiness', fc.oneof(huge, nonFinite, fc.constantFrom(101, -1, 1.5))],
  ['oom_score_adj', fc.oneof(huge, nonFinite, fc.constantFrom(1001, -1001, 0.5))],
  ['cpu_shares', fc.oneof(huge, nonFinite, fc.constantFrom(262_145, 1.5))],
  ['cpu_period', fc.oneof(huge, nonFinite, fc.constantFrom(1_000_001, 999, 1.5))],
  ['cpu_quota', fc.oneof(huge, nonFinite, fc.constantFrom(2 ** 63, -2, 1.5))],
  ['cpu_rt_period', fc.oneof(huge, nonFinite, fc.constantFrom(2 ** 63, -1, 1.5))],
  ['cpu_rt_runtime', fc.oneof(huge, nonFinite, fc.constantFrom(2 ** 63, 1.5))],
  ['blkio_weight', fc.oneof(huge, nonFinite, fc.constantFrom(1001, 9, 1.5))],
  ['device_read_bps', fc.oneof(huge, nonFinite, fc.constantFrom(2 ** 64, -1)).map((n) => [{ path: '/dev/vda', rate: n }])],
  ['device_write_iops', fc.oneof(huge, nonFinite, fc.constantFrom(2 ** 64, -1)).map((n) => [{ path: '/dev/vda', rate: n }])],
];

/** [field named by the error, parameters that contradict each other]. */
const CONTRADICTIONS: [string, Record<string, unknown>][] = [
  ['network_mode', { network: 'backend', network_mode: 'bridge' }],
  ['restart_policy', { restart_policy: { name: 'always' } }],
  ['restart_policy', { auto_remove: true, restart_policy: { name: 'on-failure', maximum_retry_count: 3 } }],
  ['restart_policy', { auto_remove: false, restart_policy: { name: 'always', maximum_retry_count: 3 } }],
  ['ports', { network_mode: 'host', ports: { '8080/tcp': 8080 } }],
  ['ports', { network_mode: 'container:db', ports: { 80: null } }],
  ['hostname', { network_mode: 'container:db', hostname: 'web' }],
  ['dns', { network_mode: 'container:db', dns: ['1.1.1.1'] }],
  ['extra_hosts', { network_mode: 'container:db', extra_hosts: { db: '10.0.0.2' } }],
  ['oom_kill_disable', { oom_kill_disable: true }],
  ['cap_drop', { cap_add: ['NET_ADMIN'], cap_drop: ['CAP_NET_ADMIN'] }],
  ['volumes', { volumes: ['/a:/data', '/b:/data/'] }],
  ['tmpfs', { volumes: ['/a:/scratch'], tmpfs: ['/scratch'] }],
];

const image = fc.constantFrom('alpine', 'highway-test/busybox:latest', 'registry.local:5000/team/app:1.2');

const badValueCase: fc.Arbitrary<InvalidParamsCase> = fc
  .constantFrom(...BAD_VALUES, ...EXTREME_BAD_VALUES)
  .chain(([field, values]) => fc.record({ field: fc.constant(field), value: values }))
  .map(({ field, value }) => ({ field, patch: { [field]: value } }))
  .chain(({ field, patch }) => withBase(field, patch));

const contradictionCase: fc.Arbitrary<InvalidParamsCase> = fc
  .constantFrom(...CONTRADICTIONS)
  .chain(([field, patch]) => withBase(field, patch));

function withBase(field: string, patch: Record<string, unknown>): fc.Arbitrary<InvalidParamsCase> {
  return fc.tuple(validBase, image).map(([base, img]) => {
    const params: Record<string, unknown> = { image: img, ...base };
    // Drop base parameters the defect touches, so the defect is the only problem.
    for (const key of Object.keys(patch)) delete params[key];
    if (field === 'tmpfs') delete params.tmpfs;
    return { field, params: { ...params, ...patch } };
  });
}

/** One invalid parameter set and the parameter its ValidationError must name. */
export const invalidParamsArbitrary: fc.Arbitrary<InvalidParamsCase> = fc.oneof(
  { arbitrary: badValueCase, weight: 3 },
  { arbitrary: contradictionCase, weight: 1 },
);

// ---------------------------------------------------------------- abuse: size, unstorable text, prototype keys

export interface AbusiveParamsCase extends InvalidParamsCase {
  /** The shape of abuse, so a test can check that every shape was generated. */
  kind: 'huge_string' | 'nul' | 'lone_surrogate' | 'prototype_key' | 'huge_map' | 'too_deep';
}

const MiB = 1024 * 1024;
/** Shared, so 500 cases do not allocate 500 copies. */
const HUGE = { '300k': 'x'.repeat(300 * 1024), '1m': 'y'.repeat(MiB), '20m': 'z'.repeat(20 * MiB) } as const;

/** Own properties named `key` (a literal `{__proto__: ...}` would set the prototype instead). */
const withKey = (key: string, value: unknown): Record<string, unknown> => JSON.parse(`{${JSON.stringify(key)}: ${JSON.stringify(value)}}`);

/** [field, params placing `bad` (a string) in that parameter, as a value or as a key]. */
const STRING_SLOTS: [string, (bad: string) => Record<string, unknown>][] = [
  ['image', (bad) => ({ image: `alpine${bad}` })],
  ['command', (bad) => ({ command: ['sh', '-c', `echo ${bad}`] })],
  ['command', (bad) => ({ command: `echo ${bad}` })],
  ['environment', (bad) => ({ environment: { GREETING: `hi${bad}` } })],
  ['environment', (bad) => ({ environment: withKey(`K${bad}`, 'v') })],
  ['environment', (bad) => ({ environment: [`A=${bad}`] })],
  ['labels', (bad) => ({ labels: { team: `data${bad}` } })],
  ['labels', (bad) => ({ labels: withKey(`team${bad}`, 'data') })],
  ['working_dir', (bad) => ({ working_dir: `/work${bad}` })],
  ['user', (bad) => ({ user: `nobody${bad}` })],
  ['hostname', (bad) => ({ hostname: `web${bad}` })],
  ['volumes', (bad) => ({ volumes: [`/tmp/in${bad}:/in:ro`] })],
  ['tmpfs', (bad) => ({ tmpfs: withKey(`/scratch${bad}`, 'size=1m') })],
  ['extra_hosts', (bad) => ({ extra_hosts: withKey(`db${bad}`, '10.0.0.2') })],
  ['log_config', (bad) => ({ log_config: { type: 'json-file', config: { 'max-size': `1m${bad}` } } })],
];

const PROTOTYPE_SLOTS: [string, (key: string) => Record<string, unknown>][] = [
  ['labels', (key) => ({ labels: withKey(key, 'x') })],
  ['labels', (key) => ({ labels: { team: 'data', ...withKey(key, 'x') } })],
  ['environment', (key) => ({ environment: withKey(key, 'x') })],
  ['volumes', (key) => ({ volumes: withKey(key, { bind: '/in', mode: 'ro' }) })],
  ['volumes', (key) => ({ volumes: { '/tmp/in': withKey(key, '/in') } })],
  ['tmpfs', (key) => ({ tmpfs: withKey(key, 'size=1m') })],
  ['ulimits', (key) => ({ ulimits: withKey(key, 1024) })],
  ['extra_hosts', (key) => ({ extra_hosts: withKey(key, '10.0.0.2') })],
  ['log_config', (key) => ({ log_config: { type: 'json-file', config: withKey(key, '1m') } })],
  ['healthcheck', (key) => ({ healthcheck: { test: 'true', ...withKey(key, 1) } })],
];

const nulOrSurrogate = fc.oneof(
  fc.constantFrom('\u0000', 'a\u0000b', '\u0000\u0000').map((bad) => ({ kind: 'nul' as const, bad })),
  fc.constantFrom('\uD800', '\uDC00', 'x\uDBFFy', '\uDFFF\uD800').map((bad) => ({ kind: 'lone_surrogate' as const, bad })),
);

const unstorableCase: fc.Arbitrary<AbusiveParamsCase> = fc
  .tuple(fc.constantFrom(...STRING_SLOTS), nulOrSurrogate)
  .map(([[field, place], { kind, bad }]) => ({ field, kind, params: place(bad) }));

const hugeStringCase: fc.Arbitrary<AbusiveParamsCase> = fc
  .tuple(fc.constantFrom(...STRING_SLOTS), fc.constantFrom(HUGE['300k'], HUGE['1m'], HUGE['20m']))
  .map(([[field, place], huge]) => ({ field, kind: 'huge_string' as const, params: place(huge) }));

const prototypeKeyCase: fc.Arbitrary<AbusiveParamsCase> = fc
  .tuple(fc.constantFrom(...PROTOTYPE_SLOTS), fc.constantFrom('__proto__', 'constructor', 'prototype'))
  .map(([[field, place], key]) => ({ field, kind: 'prototype_key' as const, params: place(key) }));

/** Too many entries (the default limits: 128 labels, 512 environment variables) or too many bytes in them. */
const hugeMapCase: fc.Arbitrary<AbusiveParamsCase> = fc
  .tuple(fc.constantFrom('labels', 'environment'), fc.constantFrom('count', 'bytes', 'flood'))
  .map(([field, how]) => {
    const n = how === 'count' ? (field === 'labels' ? 129 : 513) : how === 'bytes' ? 100 : 50_000;
    const value = how === 'bytes' ? 'v'.repeat(field === 'labels' ? 1024 : 2048) : 'v';
    const map = Object.fromEntries(Array.from({ length: n }, (_, i) => [`K${i}`, value]));
    return { field, kind: 'huge_map' as const, params: { [field]: map } };
  });

const tooDeepCase: fc.Arbitrary<AbusiveParamsCase> = fc.integer({ min: 40, max: 2_000 }).map((depth) => {
  let nested: unknown = 'leaf';
  for (let i = 0; i < depth; i++) nested = { a: nested };
  return { field: 'log_config', kind: 'too_deep' as const, params: { log_config: { type: 'json-file', config: nested } } };
});

/** One abusive parameter set (with a valid base) and the parameter its ValidationError must name. */
export const abusiveParamsArbitrary: fc.Arbitrary<AbusiveParamsCase> = fc
  .oneof(unstorableCase, hugeStringCase, prototypeKeyCase, hugeMapCase, tooDeepCase)
  .chain((c) => withBase(c.field, c.params).map((withBaseCase) => ({ ...withBaseCase, kind: c.kind })));

/** One parameter set with a huge, NaN-producing or just-past-the-bound number, and the field its error must name. */
export const extremeInvalidParamsArbitrary: fc.Arbitrary<InvalidParamsCase> = fc
  .constantFrom(...EXTREME_BAD_VALUES)
  .chain(([field, values]) => values.map((value) => ({ field, patch: { [field]: value, ...(field === 'restart_policy' ? { auto_remove: false } : {}), ...(field === 'ports' ? { network_mode: 'bridge' } : {}) } })))
  .chain(({ field, patch }) => withBase(field, patch));

// ---------------------------------------------------------------- valid, but at the bounds

/** The bounds, as src/params/bounds.ts has them (repeated here: the test states the contract). */
const AT_BOUND = {
  int32: INT32_MAX,
  dockerDurationSeconds: 9_223_372_036,
  exactInteger: Number.MAX_SAFE_INTEGER,
  pidMax: 4_194_304,
};

/**
 * Parameter sets that are valid but extreme: every numeric field at (or near) its bound or its
 * smallest value. Each must either be refused naming its field, or run to a terminal state
 * within its own deadlines (commands end at once or within `timeout`).
 */
export const extremeValidParamsArbitrary: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    command: fc.constantFrom(['true'], ['sh', '-c', 'exit 3'], ['sleep', '30']),
    timeout: fc.constantFrom(1, 2, '1500ms'),
    stop_grace_period: fc.constantFrom(0, 1, AT_BOUND.int32, `${AT_BOUND.int32}s`),
    gc_protect_seconds: fc.constantFrom(0, AT_BOUND.int32),
    placement_timeout: fc.constantFrom(60, AT_BOUND.int32),
    memory_limit: fc.constantFrom(6 * 1024 * 1024, AT_BOUND.exactInteger, '8191t'),
    shm_size: fc.constantFrom(1, 64 * 1024 * 1024, AT_BOUND.exactInteger),
    max_output_bytes: fc.constantFrom(0, 1, 64 * 1024 * 1024),
    cpu_limit: fc.constantFrom(0.01, 0.5, 1, 2, 1000, AT_BOUND.dockerDurationSeconds),
    pids_limit: fc.constantFrom(1, -1, 64, AT_BOUND.pidMax),
    user: fc.constantFrom('0', 2147483647, '0:2147483647'),
    ulimits: fc.constantFrom({ core: 0 }, { core: -1 }, { nofile: { soft: 1024, hard: 1024 } }, { nofile: { soft: 1024, hard: AT_BOUND.exactInteger } }, { nproc: AT_BOUND.exactInteger }),
    healthcheck: fc.constantFrom(
      // Durations as numbers are nanoseconds (docker-py): the largest kept exact, and Docker's 1 ms minimum.
      { test: 'true', interval: Number.MAX_SAFE_INTEGER, timeout: Number.MAX_SAFE_INTEGER, start_period: Number.MAX_SAFE_INTEGER, retries: AT_BOUND.int32 },
      { test: ['CMD', 'true'], interval: 1_000_000, timeout: '1ms', retries: 0 },
    ),
    restart_policy: fc.constantFrom({ name: 'on-failure', maximum_retry_count: AT_BOUND.int32 }, { name: 'no' }),
    stop_signal: fc.constantFrom(15, 'SIGTERM', 9),
  },
  { requiredKeys: ['command', 'timeout'] },
).map((p) => ('restart_policy' in p ? { ...p, auto_remove: false } : p));
