/** Linux capability names as Docker accepts them (upper case, without the "CAP_" prefix). */
export const LINUX_CAPABILITIES: readonly string[] = [
  'AUDIT_CONTROL', 'AUDIT_READ', 'AUDIT_WRITE', 'BLOCK_SUSPEND', 'BPF', 'CHECKPOINT_RESTORE', 'CHOWN',
  'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'IPC_LOCK', 'IPC_OWNER', 'KILL', 'LEASE',
  'LINUX_IMMUTABLE', 'MAC_ADMIN', 'MAC_OVERRIDE', 'MKNOD', 'NET_ADMIN', 'NET_BIND_SERVICE', 'NET_BROADCAST',
  'NET_RAW', 'PERFMON', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_CHROOT',
  'SYS_MODULE', 'SYS_NICE', 'SYS_PACCT', 'SYS_PTRACE', 'SYS_RAWIO', 'SYS_RESOURCE', 'SYS_TIME',
  'SYS_TTY_CONFIG', 'SYSLOG', 'WAKE_ALARM',
];

/** The capabilities Docker grants a container that drops none (moby's oci/caps/defaults.go). */
export const DOCKER_DEFAULT_CAPABILITIES: readonly string[] = [
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE',
  'NET_RAW', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
];

/** "cap_net_admin", "CAP_NET_ADMIN" and "net_admin" all become "NET_ADMIN". */
export function normalizeCapability(name: string): string {
  return name.trim().toUpperCase().replace(/^CAP_/, '');
}

/**
 * The capabilities a non-privileged container ends up with: Docker's default set minus
 * cap_drop, plus cap_add, where "ALL" stands for every capability.
 */
export function effectiveCapabilities(capAdd: readonly string[], capDrop: readonly string[]): Set<string> {
  if (capAdd.includes('ALL')) return new Set(LINUX_CAPABILITIES);
  const kept = capDrop.includes('ALL') ? [] : DOCKER_DEFAULT_CAPABILITIES.filter((cap) => !capDrop.includes(cap));
  return new Set([...kept, ...capAdd]);
}
