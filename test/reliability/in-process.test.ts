// The faults checked within this process: untrusted strings through the real pollers and sink, and wall-clock jumps
// on the runner's fake clock.
import { describe } from 'vitest';
import { clockJumps } from './clock.ts';
import { useFakeAwsCredentials } from './harness.ts';
import { untrustedStrings } from './untrusted-strings.ts';

describe('in process', () => {
  useFakeAwsCredentials();
  untrustedStrings();
  clockJumps();
});
