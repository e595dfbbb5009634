/**
 * A library user in a process of its own (for the test that `close()` leaves nothing alive):
 * registers the tools on DATABASE_URL, runs one container (so its LISTEN connection is up),
 * prints `ran`, and on the line `close` on stdin closes the tools, prints its remaining
 * active resources as JSON, and then does nothing: it must exit on its own.
 */
import { createInterface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import { ToolRegistry } from '../../src/tools/registry.js';
import { registerDockerTools } from '../../src/tools/docker-tools.js';
import type { DockerRunResult } from '../../src/tools/docker-run.js';

const registry = new ToolRegistry();
const tools = registerDockerTools(registry, { databaseUrl: process.env['DATABASE_URL']! });
const ctx = { tenant_id: 't-close', workflow_run_id: randomUUID(), activity_id: randomUUID(), worker_id: null };
const result = await registry.call<DockerRunResult>('tools.docker.run', { image: process.env['TEST_IMAGE']!, command: ['echo', 'hi'] }, ctx);
process.stdout.write(`ran ${result.status}\n`);
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line.trim() !== 'close') continue;
  lines.close();
  process.stdin.destroy();
  await tools.close();
  // What is left once the event loop has settled (stdin and stdout themselves aside).
  setImmediate(() => process.stdout.write(`resources ${JSON.stringify(process.getActiveResourcesInfo())}\n`));
  break;
}
