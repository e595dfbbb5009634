import os from 'node:os';

/**
 * Who the command line acts as, for the audit trail: `cli:<user>@<hostname>` (the OS user
 * running the command). `run` is different: it is an activity worker, and its actor is its
 * worker id (`cli-<hostname>-<pid>-<random>`, also recorded on the intent).
 */
export function cliActor(): string {
  let user: string;
  try {
    user = os.userInfo().username;
  } catch {
    user = process.env['USER'] ?? `uid${process.getuid?.() ?? '?'}`;
  }
  return `cli:${user}@${os.hostname()}`.slice(0, 200);
}
