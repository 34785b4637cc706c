// Source API faults, every poller in this process in real time: a file of their own, so nothing else shares the
// event loop whose timing they measure.
import { describe } from 'vitest';
import { useFakeAwsCredentials } from './harness.ts';
import { sourceFaults } from './sources.ts';

describe('source APIs', () => {
  useFakeAwsCredentials();
  sourceFaults();
});
