/**
 * Builds the image `highway-test/busybox:latest` from the host's busybox-static, for machines
 * that reach no registry (the tests build it the same way).
 *
 * Usage: npm run test-image
 */
import { connectDocker } from '../test/support/docker-env.js';
import { ensureTestImage, TEST_IMAGE } from '../test/support/test-image.js';

const docker = await connectDocker();
await ensureTestImage(docker);
console.log(`${TEST_IMAGE} is ready`);
