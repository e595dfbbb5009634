/**
 * docker-py's container arguments, and for each supported one the Docker CLI flags that make the
 * same container: the table behind the differential test (test/integration/params/docker-cli-parity.test.ts)
 * and the every-argument test (test/unit/params/docker-py-arguments.test.ts).
 */

/** docker-py's `RUN_CREATE_KWARGS` + `RUN_HOST_CONFIG_KWARGS` (docker/models/containers.py), the arguments
 *  `_create_container_args` takes itself (ports, volumes, network, networking_config), and run()'s own
 *  (remove, stdout, stderr, stream; detach is in RUN_CREATE_KWARGS). */
export const DOCKER_PY_ARGUMENTS: readonly string[] = [
  // RUN_CREATE_KWARGS
  'command', 'detach', 'domainname', 'entrypoint', 'environment', 'healthcheck', 'hostname', 'image', 'labels',
  'mac_address', 'name', 'network_disabled', 'platform', 'stdin_open', 'stop_signal', 'tty', 'use_config_proxy',
  'user', 'working_dir',
  // RUN_HOST_CONFIG_KWARGS
  'auto_remove', 'blkio_weight_device', 'blkio_weight', 'cap_add', 'cap_drop', 'cgroup_parent', 'cgroupns',
  'cpu_count', 'cpu_percent', 'cpu_period', 'cpu_quota', 'cpu_shares', 'cpuset_cpus', 'cpuset_mems',
  'cpu_rt_period', 'cpu_rt_runtime', 'device_cgroup_rules', 'device_read_bps', 'device_read_iops',
  'device_write_bps', 'device_write_iops', 'devices', 'device_requests', 'dns_opt', 'dns_search', 'dns',
  'extra_hosts', 'group_add', 'init', 'init_path', 'ipc_mode', 'isolation', 'kernel_memory', 'links',
  'log_config', 'lxc_conf', 'mem_limit', 'mem_reservation', 'mem_swappiness', 'memswap_limit', 'mounts',
  'nano_cpus', 'network_mode', 'oom_kill_disable', 'oom_score_adj', 'pid_mode', 'pids_limit', 'privileged',
  'publish_all_ports', 'read_only', 'restart_policy', 'security_opt', 'shm_size', 'storage_opt', 'sysctls',
  'tmpfs', 'ulimits', 'userns_mode', 'uts_mode', 'version', 'volume_driver', 'volumes_from', 'runtime',
  // taken by _create_container_args
  'ports', 'volumes', 'network', 'networking_config',
  // run()'s own
  'remove', 'stdout', 'stderr', 'stream',
];

/** The flags that give a `docker create` the tool's secure defaults (docs/parameters.md, "Differences from the Docker CLI"). */
export const SECURE_DEFAULTS = ['--network', 'none', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--init'];
/** The secure defaults when the caller asks for privileges (no no-new-privileges). */
const PRIVILEGED_DEFAULTS = ['--network', 'none', '--cap-drop', 'ALL', '--init'];

export interface ParityCase {
  /** The docker-py argument (or the original name) this case pins. */
  argument: string;
  params: Record<string, unknown>;
  /** The Docker CLI's equivalent flags. `{target}` stands for a helper container's id. */
  cli: string[];
  /** Flags for the secure defaults (default SECURE_DEFAULTS). */
  base?: string[];
  /** Needs a helper container (`{target}`). */
  target?: boolean;
  /** This daemon refuses the container (both ways alike): the error messages are compared instead. */
  refusedByDaemon?: string;
  /** Why this argument has no CLI flag: the tool's side is checked against `expect` instead. */
  noCliFlag?: { why: string; expect: (info: { Config: Record<string, unknown>; HostConfig: Record<string, unknown> }) => void };
}

const IMG_DEV = '/dev/vda';

/** One case per supported argument (and per docker-py alias), each with the CLI flags docker's docs give for it. */
export const PARITY_CASES: readonly ParityCase[] = [
  { argument: 'command', params: { command: ['echo', 'hi there'] }, cli: [] },
  { argument: 'entrypoint', params: { entrypoint: ['/bin/sh'] }, cli: ['--entrypoint', '/bin/sh'] },
  { argument: 'entrypoint (cleared)', params: { entrypoint: [] }, cli: ['--entrypoint', ''] },
  { argument: 'environment', params: { environment: { A: '1', B: 'two words' } }, cli: ['-e', 'A=1', '-e', 'B=two words'] },
  { argument: 'environment (list)', params: { environment: ['A=1', 'B=2'] }, cli: ['-e', 'A=1', '-e', 'B=2'] },
  { argument: 'working_dir', params: { working_dir: '/tmp' }, cli: ['-w', '/tmp'] },
  { argument: 'user', params: { user: '1000:1000' }, cli: ['-u', '1000:1000'] },
  { argument: 'labels', params: { labels: { team: 'data' } }, cli: ['--label', 'team=data'] },
  { argument: 'labels (list)', params: { labels: ['team'] }, cli: ['--label', 'team='] },
  { argument: 'hostname', params: { hostname: 'worker-1' }, cli: ['-h', 'worker-1'] },
  { argument: 'domainname', params: { domainname: 'example.com' }, cli: ['--domainname', 'example.com'] },
  { argument: 'init', params: { init: false }, cli: [], base: ['--network', 'none', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges'] },
  { argument: 'privileged', params: { privileged: true }, cli: ['--privileged'], base: PRIVILEGED_DEFAULTS },
  { argument: 'cap_add', params: { cap_add: ['NET_BIND_SERVICE'] }, cli: ['--cap-add', 'NET_BIND_SERVICE'], base: PRIVILEGED_DEFAULTS },
  { argument: 'cap_drop', params: { cap_drop: ['NET_RAW', 'MKNOD'] }, cli: ['--cap-drop', 'NET_RAW', '--cap-drop', 'MKNOD'], base: ['--network', 'none', '--security-opt', 'no-new-privileges', '--init'] },
  // memory_limit also sets MemorySwap = Memory (documented difference): the CLI gets --memory-swap to match.
  { argument: 'memory_limit', params: { memory_limit: '64m' }, cli: ['--memory', '64m', '--memory-swap', '64m'] },
  { argument: 'mem_limit', params: { mem_limit: 67108864 }, cli: ['--memory', '64m', '--memory-swap', '64m'] },
  { argument: 'memswap_limit', params: { mem_limit: '64m', memswap_limit: '128m' }, cli: ['--memory', '64m', '--memory-swap', '128m'] },
  { argument: 'memswap_limit (-1)', params: { mem_limit: '64m', memswap_limit: -1 }, cli: ['--memory', '64m', '--memory-swap', '-1'] },
  { argument: 'mem_reservation', params: { mem_reservation: '32m' }, cli: ['--memory-reservation', '32m'] },
  { argument: 'mem_swappiness', params: { mem_swappiness: 10 }, cli: ['--memory-swappiness', '10'] },
  { argument: 'oom_kill_disable', params: { mem_limit: '64m', oom_kill_disable: true }, cli: ['--memory', '64m', '--memory-swap', '64m', '--oom-kill-disable'] },
  { argument: 'oom_score_adj', params: { oom_score_adj: 500 }, cli: ['--oom-score-adj', '500'] },
  { argument: 'cpu_limit', params: { cpu_limit: 0.5 }, cli: ['--cpus', '0.5'] },
  { argument: 'nano_cpus', params: { nano_cpus: 500_000_000 }, cli: ['--cpus', '0.5'] },
  { argument: 'cpu_shares', params: { cpu_shares: 512 }, cli: ['--cpu-shares', '512'] },
  { argument: 'cpu_period', params: { cpu_period: 50_000 }, cli: ['--cpu-period', '50000'] },
  { argument: 'cpu_quota', params: { cpu_period: 100_000, cpu_quota: 50_000 }, cli: ['--cpu-period', '100000', '--cpu-quota', '50000'] },
  { argument: 'cpuset_cpus', params: { cpuset_cpus: '0' }, cli: ['--cpuset-cpus', '0'] },
  { argument: 'cpuset_mems', params: { cpuset_mems: '0' }, cli: ['--cpuset-mems', '0'] },
  { argument: 'cpu_rt_period', params: { cpu_rt_period: 1_000_000 }, cli: ['--cpu-rt-period', '1000000'] },
  { argument: 'cpu_rt_runtime', params: { cpu_rt_runtime: 1000 }, cli: ['--cpu-rt-runtime', '1000'] },
  { argument: 'pids_limit', params: { pids_limit: 64 }, cli: ['--pids-limit', '64'] },
  { argument: 'blkio_weight', params: { blkio_weight: 300 }, cli: ['--blkio-weight', '300'] },
  { argument: 'blkio_weight_device', params: { blkio_weight_device: [{ Path: IMG_DEV, Weight: 200 }] }, cli: ['--blkio-weight-device', `${IMG_DEV}:200`] },
  { argument: 'device_read_bps', params: { device_read_bps: [{ Path: IMG_DEV, Rate: '1mb' }] }, cli: ['--device-read-bps', `${IMG_DEV}:1mb`] },
  { argument: 'device_write_bps', params: { device_write_bps: [{ Path: IMG_DEV, Rate: 1048576 }] }, cli: ['--device-write-bps', `${IMG_DEV}:1mb`] },
  { argument: 'device_read_iops', params: { device_read_iops: [{ Path: IMG_DEV, Rate: 100 }] }, cli: ['--device-read-iops', `${IMG_DEV}:100`] },
  { argument: 'device_write_iops', params: { device_write_iops: [{ path: IMG_DEV, rate: 200 }] }, cli: ['--device-write-iops', `${IMG_DEV}:200`] },
  { argument: 'shm_size', params: { shm_size: '32m' }, cli: ['--shm-size', '32m'] },
  { argument: 'read_only', params: { read_only: true }, cli: ['--read-only'] },
  { argument: 'tmpfs', params: { tmpfs: { '/scratch': 'size=16m,mode=1777' } }, cli: ['--tmpfs', '/scratch:size=16m,mode=1777'] },
  // Binds are sent as mounts (documented difference): the CLI's equivalent is --mount.
  { argument: 'volumes', params: { volumes: { '/tmp': { bind: '/host-tmp', mode: 'ro' } } }, cli: ['--mount', 'type=bind,src=/tmp,dst=/host-tmp,readonly'] },
  { argument: 'volumes (named)', params: { volumes: ['hw-parity-vol:/data'] }, cli: ['--mount', 'type=volume,src=hw-parity-vol,dst=/data'] },
  { argument: 'mounts (bind)', params: { mounts: [{ type: 'bind', source: '/tmp', target: '/t', read_only: true, propagation: 'rslave' }] }, cli: ['--mount', 'type=bind,src=/tmp,dst=/t,readonly,bind-propagation=rslave'] },
  { argument: 'mounts (bind, consistency)', params: { mounts: [{ Type: 'bind', Source: '/tmp', Target: '/c', Consistency: 'cached' }] }, cli: ['--mount', 'type=bind,src=/tmp,dst=/c,consistency=cached'] },
  { argument: 'mounts (volume, API keys)', params: { mounts: [{ Type: 'volume', Source: 'hw-parity-vol2', Target: '/v', ReadOnly: false, VolumeOptions: { NoCopy: true } }] }, cli: ['--mount', 'type=volume,src=hw-parity-vol2,dst=/v,volume-nocopy'] },
  { argument: 'mounts (tmpfs)', params: { mounts: [{ type: 'tmpfs', target: '/run/x', tmpfs_size: '8m', tmpfs_mode: 0o700 }] }, cli: ['--mount', 'type=tmpfs,dst=/run/x,tmpfs-size=8388608,tmpfs-mode=0700'] },
  { argument: 'network_mode', params: { network_mode: 'host' }, cli: [], base: ['--network', 'host', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--init'] },
  { argument: 'network_mode (container:)', params: { network_mode: 'container:{target}' }, cli: [], base: ['--network', 'container:{target}', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--init'], target: true },
  { argument: 'dns', params: { dns: ['127.0.0.53'] }, cli: ['--dns', '127.0.0.53'] },
  { argument: 'dns_search', params: { dns_search: ['example.com'] }, cli: ['--dns-search', 'example.com'] },
  { argument: 'dns_opt', params: { dns_opt: ['ndots:2'] }, cli: ['--dns-option', 'ndots:2'] },
  { argument: 'extra_hosts', params: { extra_hosts: { db: '127.0.0.1' } }, cli: ['--add-host', 'db:127.0.0.1'] },
  { argument: 'devices', params: { devices: ['/dev/null:/dev/xnull:r'] }, cli: ['--device', '/dev/null:/dev/xnull:r'] },
  { argument: 'device_cgroup_rules', params: { device_cgroup_rules: ['c 1:3 mr'] }, cli: ['--device-cgroup-rule', 'c 1:3 mr'] },
  // No GPU on this machine: the create (and its inspect) are compared; a start would fail on both sides.
  { argument: 'device_requests', params: { device_requests: [{ count: -1, capabilities: [['gpu']] }] }, cli: ['--gpus', 'all'] },
  { argument: 'ulimits', params: { ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }] }, cli: ['--ulimit', 'nofile=1024:2048'] },
  { argument: 'log_config', params: { log_config: { Type: 'json-file', Config: { 'max-size': '1m' } } }, cli: ['--log-driver', 'json-file', '--log-opt', 'max-size=1m'] },
  { argument: 'healthcheck', params: { healthcheck: { test: 'true', interval: 1_000_000_000, timeout: '2s', retries: 3, start_period: 500_000_000 } }, cli: ['--health-cmd', 'true', '--health-interval', '1s', '--health-timeout', '2s', '--health-retries', '3', '--health-start-period', '500ms'] },
  { argument: 'restart_policy', params: { auto_remove: false, restart_policy: { Name: 'on-failure', MaximumRetryCount: 3 } }, cli: ['--restart', 'on-failure:3'] },
  { argument: 'stop_signal', params: { stop_signal: 'SIGINT' }, cli: ['--stop-signal', 'SIGINT'] },
  { argument: 'stop_grace_period', params: { stop_grace_period: 30 }, cli: ['--stop-timeout', '30'] },
  { argument: 'group_add', params: { group_add: ['audio', 1234] }, cli: ['--group-add', 'audio', '--group-add', '1234'] },
  { argument: 'security_opt', params: { security_opt: ['label=disable'] }, cli: ['--security-opt', 'label=disable', '--security-opt', 'no-new-privileges'], base: ['--network', 'none', '--cap-drop', 'ALL', '--init'] },
  { argument: 'security_opt (no-new-privileges)', params: { security_opt: ['no-new-privileges:true'] }, cli: [], base: ['--network', 'none', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges:true', '--init'] },
  { argument: 'sysctls', params: { sysctls: { 'net.ipv4.tcp_syncookies': 1 } }, cli: ['--sysctl', 'net.ipv4.tcp_syncookies=1'] },
  { argument: 'pid_mode', params: { pid_mode: 'host' }, cli: ['--pid', 'host'] },
  { argument: 'pid_mode (container:)', params: { pid_mode: 'container:{target}' }, cli: ['--pid', 'container:{target}'], target: true },
  { argument: 'ipc_mode', params: { ipc_mode: 'shareable' }, cli: ['--ipc', 'shareable'] },
  { argument: 'ipc_mode (host)', params: { ipc_mode: 'host' }, cli: ['--ipc', 'host'] },
  { argument: 'uts_mode', params: { uts_mode: 'host' }, cli: ['--uts', 'host'] },
  { argument: 'userns_mode', params: { userns_mode: 'host' }, cli: ['--userns', 'host'] },
  { argument: 'cgroupns', params: { cgroupns: 'host' }, cli: ['--cgroupns', 'host'] },
  { argument: 'cgroup_parent', params: { cgroup_parent: '/hw-parity' }, cli: ['--cgroup-parent', '/hw-parity'] },
  { argument: 'runtime', params: { runtime: 'runc' }, cli: ['--runtime', 'runc'] },
  { argument: 'volumes_from', params: { volumes_from: ['{target}:ro'] }, cli: ['--volumes-from', '{target}:ro'], target: true },
  { argument: 'volume_driver', params: { volume_driver: 'local' }, cli: ['--volume-driver', 'local'] },
  { argument: 'storage_opt', params: { storage_opt: { size: '1G' } }, cli: ['--storage-opt', 'size=1G'], refusedByDaemon: 'overlay2 on extfs has no per-container size' },
  {
    argument: 'network_disabled',
    params: { network_disabled: true },
    cli: [],
    noCliFlag: { why: "docker create has no flag for Config.NetworkDisabled (docker-py's network_disabled)", expect: (info) => { if (info.Config['NetworkDisabled'] !== true) throw new Error('NetworkDisabled not set'); } },
  },
];

/**
 * Arguments that act in the reconciler, not in the create body (nothing in `docker inspect` to compare),
 * and arguments this daemon cannot show (no network but "none" and "host": --bridge=none; no networks
 * may be created here). Each is pinned by the test named.
 */
export const NOT_IN_PARITY: Readonly<Record<string, string>> = {
  image: 'every case (Config.Image)',
  detach: 'test/integration/params/lifecycle.test.ts "detach: returns once the container runs, ..."',
  auto_remove: 'test/unit/params/container-config.test.ts "never sets Docker\'s AutoRemove" (done by the reconciler after collecting output)',
  remove: 'test/unit/params/docker-py-arguments.test.ts "mem_limit, nano_cpus and remove are memory_limit, cpu_limit (CPUs) and auto_remove"',
  ports: 'test/unit/params/container-config.test.ts "ports become ExposedPorts and PortBindings" (publishing needs a bridge network this daemon does not have)',
  publish_all_ports: 'test/unit/params/docker-py-arguments.test.ts "publish_all_ports and mac_address in the create body" (needs a bridge network this daemon does not have)',
  mac_address: 'test/unit/params/docker-py-arguments.test.ts "publish_all_ports and mac_address in the create body" (needs a bridge network this daemon does not have)',
  network: 'test/unit/params/container-config.test.ts "network connects to the named network at create" (no network may be created here)',
};
