/**
 * CPU accounting by component, from /proc (Linux): this process, the PostgreSQL server the
 * benchmark started (postmaster and its backends), the Docker daemons (dockerd, containerd,
 * with their reaped children), and the whole machine. On a machine where the daemon is
 * CPU-bound, throughput follows CPU per container, so this says where a mode's cost lands.
 * The daemons and the machine are shared with anything else running: read those as rough.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

export interface CpuSample {
  /** This Node.js process (user + system). */
  node: number;
  /** The benchmark's PostgreSQL server (NaN when not local or not known). */
  postgres: number;
  /** dockerd and containerd, with their reaped children. */
  docker: number;
  /** Every core of the machine, busy time. */
  machine: number;
}

export const CPU_KEYS = ['node', 'postgres', 'docker', 'machine'] as const;

/** [ppid, own ms, own + reaped children ms] of a process, or null when it is gone. */
function procStat(pid: number): { ppid: number; own: number; withChildren: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
    const [utime, stime, cutime, cstime] = [11, 12, 13, 14].map((i) => Number(f[i]));
    return { ppid: Number(f[1]), own: (utime! + stime!) * TICK_MS, withChildren: (utime! + stime! + cutime! + cstime!) * TICK_MS };
  } catch {
    return null;
  }
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

function allPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number);
  } catch {
    return [];
  }
}

function machineBusyMs(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    const total = ticks.reduce((a, b) => a + b, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
    return (total - idle) * TICK_MS;
  } catch {
    return Number.NaN;
  }
}

export class CpuMeter {
  private postmaster: number | null = null;
  private readonly dockerPids = allPids().filter((pid) => ['dockerd', 'containerd'].includes(comm(pid)));

  /** Count this PostgreSQL server (by its postmaster's pid) from now on. */
  watchPostgres(postmasterPid: number | null): void {
    this.postmaster = postmasterPid && procStat(postmasterPid) ? postmasterPid : null;
  }

  sample(): CpuSample {
    const u = process.cpuUsage();
    let postgres = Number.NaN;
    if (this.postmaster !== null) {
      postgres = procStat(this.postmaster)?.withChildren ?? Number.NaN;
      for (const pid of allPids()) {
        const s = procStat(pid);
        if (s && s.ppid === this.postmaster) postgres += s.own;
      }
    }
    const docker = this.dockerPids.reduce((a, pid) => a + (procStat(pid)?.withChildren ?? 0), 0);
    return { node: (u.user + u.system) / 1000, postgres, docker, machine: machineBusyMs() };
  }

  static diff(a: CpuSample, b: CpuSample): CpuSample {
    return { node: b.node - a.node, postgres: b.postgres - a.postgres, docker: b.docker - a.docker, machine: b.machine - a.machine };
  }
}
