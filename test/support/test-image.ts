/**
 * The image every Docker test runs: made locally from Debian's busybox-static,
 * because no registry on the internet is reachable from CI.
 *
 * Rootfs: /bin/busybox plus a symlink per applet in /bin (usr/bin, sbin and
 * usr/sbin point at /bin), /etc/passwd and /etc/group with root and nobody
 * (65534), /tmp (1777), empty /proc /sys /dev, placeholder /etc/hosts,
 * /etc/hostname, /etc/resolv.conf. Imported with `docker import` semantics
 * (dockerode importImage) and a default CMD ["sh"]. About 2 MB.
 */
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, open, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { consumeProgress, describeDockerEndpoint } from './docker-env.js';

const execFileP = promisify(execFile);

export const TEST_IMAGE = 'highway-test/busybox:latest';

/** Host busybox to copy; must be a static binary (Debian's busybox-static). */
export const BUSYBOX_PATH = process.env.HIGHWAY_TEST_BUSYBOX ?? '/bin/busybox';

// In-flight builds, per daemon endpoint and tag: concurrent callers share one.
const inFlight = new Map<string, Promise<void>>();

/**
 * Make sure TEST_IMAGE exists on the daemon `docker` talks to; build it when
 * absent. Concurrent calls share one build. Each call re-checks the daemon (a
 * cheap inspect), so a test that removed the image gets it back.
 */
export function ensureTestImage(docker: Docker): Promise<void> {
  return ensureBusyboxImage(docker, TEST_IMAGE);
}

/** Like ensureTestImage, for any `repo:tag` (e.g. a scratch tag in a test). */
export function ensureBusyboxImage(docker: Docker, image: string): Promise<void> {
  const key = `${describeDockerEndpoint(docker)}|${image}`;
  let pending = inFlight.get(key);
  if (!pending) {
    pending = (async () => {
      // An image under that tag made some other way (or by an older layout) is rebuilt.
      if ((await imageVersion(docker, image)) === IMAGE_LAYOUT_VERSION) return;
      await buildBusyboxImage(docker, image);
    })().finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  return pending;
}

/** Bumped whenever the rootfs layout changes, so existing daemons rebuild the image. */
const IMAGE_LAYOUT_LABEL = 'org.highway-docker.test-image';
const IMAGE_LAYOUT_VERSION = '1';

async function imageVersion(docker: Docker, image: string): Promise<string | null> {
  try {
    const info = await docker.getImage(image).inspect();
    return info.Config?.Labels?.[IMAGE_LAYOUT_LABEL] ?? 'unlabelled';
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return null;
    throw err;
  }
}

async function imageExists(docker: Docker, image: string): Promise<boolean> {
  try {
    await docker.getImage(image).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

function splitRepoTag(image: string): { repo: string; tag: string } {
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  if (colon > slash) return { repo: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { repo: image, tag: 'latest' };
}

/** True when the ELF file has no PT_INTERP header, i.e. is statically linked. */
async function isStaticElf(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const header = Buffer.alloc(64);
    await fh.read(header, 0, 64, 0);
    if (header.readUInt32BE(0) !== 0x7f454c46) return false; // "\x7fELF"
    if (header[4] !== 2 || header[5] !== 1) return true; // not 64-bit LE: do not judge
    const phoff = Number(header.readBigUInt64LE(32));
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    await fh.read(table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) {
      if (table.readUInt32LE(i * phentsize) === 3 /* PT_INTERP */) return false;
    }
    return true;
  } finally {
    await fh.close();
  }
}

async function checkBusybox(): Promise<void> {
  try {
    await execFileP(BUSYBOX_PATH, ['true']);
  } catch (err) {
    throw new Error(
      `Cannot build the test image ${TEST_IMAGE}: ${BUSYBOX_PATH} is missing or does not run ` +
        `(${(err as Error).message}). Install it with: apt-get install busybox-static ` +
        `(or run: bash scripts/ci/setup.sh).`,
      { cause: err },
    );
  }
  if (!(await isStaticElf(BUSYBOX_PATH))) {
    throw new Error(
      `Cannot build the test image ${TEST_IMAGE}: ${BUSYBOX_PATH} is dynamically linked and would not ` +
        `run in an image without libc. Install the static one: apt-get install busybox-static.`,
    );
  }
}

async function buildRootfs(rootfs: string): Promise<void> {
  for (const dir of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'usr', 'var']) {
    await mkdir(join(rootfs, dir), { recursive: true });
  }
  await copyFile(BUSYBOX_PATH, join(rootfs, 'bin/busybox'));
  await chmod(join(rootfs, 'bin/busybox'), 0o755);

  const { stdout } = await execFileP(BUSYBOX_PATH, ['--list']);
  const applets = stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'busybox' && !s.includes('/'));
  if (!applets.includes('sh')) throw new Error(`${BUSYBOX_PATH} --list has no 'sh' applet`);
  await Promise.all(applets.map((name) => symlink('busybox', join(rootfs, 'bin', name))));
  // Every usual PATH entry resolves to /bin (so /usr/bin/env, /sbin/ip, ... work).
  await symlink('bin', join(rootfs, 'sbin'));
  await symlink('../bin', join(rootfs, 'usr/bin'));
  await symlink('../bin', join(rootfs, 'usr/sbin'));
  await mkdir(join(rootfs, 'var/tmp'));

  await writeFile(
    join(rootfs, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  );
  await writeFile(join(rootfs, 'etc/group'), 'root:x:0:\nnobody:x:65534:\nnogroup:x:65534:\n');
  // Docker bind-mounts its own over these at run time; placeholders keep the
  // image usable without that too.
  await writeFile(join(rootfs, 'etc/hosts'), '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n');
  await writeFile(join(rootfs, 'etc/hostname'), 'highway-test\n');
  await writeFile(join(rootfs, 'etc/resolv.conf'), '');

  // Modes last: mkdir's mode is filtered through the umask.
  await chmod(join(rootfs, 'tmp'), 0o1777);
  await chmod(join(rootfs, 'var/tmp'), 0o1777);
  await chmod(join(rootfs, 'root'), 0o700);
  for (const dir of ['bin', 'etc', 'proc', 'sys', 'dev', 'usr', 'var']) await chmod(join(rootfs, dir), 0o755);
}

/** Build `image` from scratch (replacing the tag if it exists). */
export async function buildBusyboxImage(docker: Docker, image: string = TEST_IMAGE): Promise<void> {
  await checkBusybox();
  const work = await mkdtemp(join(tmpdir(), 'highway-test-image-'));
  try {
    const rootfs = join(work, 'rootfs');
    await mkdir(rootfs);
    await buildRootfs(rootfs);

    const tarball = join(work, 'rootfs.tar');
    try {
      await execFileP('tar', ['-C', rootfs, '--numeric-owner', '--owner=0', '--group=0', '-cf', tarball, '.']);
    } catch (err) {
      throw new Error(`Building the test image: tar failed: ${(err as Error).message}`, { cause: err });
    }

    const { repo, tag } = splitRepoTag(image);
    const stream = await docker.importImage(createReadStream(tarball), {
      repo,
      tag,
      changes: ['CMD ["sh"]', `LABEL ${IMAGE_LAYOUT_LABEL}=${IMAGE_LAYOUT_VERSION}`],
      message: 'highway-docker test image (busybox-static)',
    });
    await consumeProgress(stream, `importing ${image}`);
    if (!(await imageExists(docker, image))) {
      throw new Error(`Building the test image: import reported success but ${image} is not on the daemon`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
