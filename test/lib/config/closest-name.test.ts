// The "did you mean" helper: edit distance with transpositions, and how near a suggestion must be.
import { describe, expect, it } from 'vitest';
import { closestName, editDistance } from '../../../lib/config/closest-name.ts';

describe('editDistance', () => {
  it.each([
    ['', '', 0],
    ['', 'abc', 3],
    ['abc', '', 3],
    ['interval', 'interval', 0],
    ['intervall', 'interval', 1],
    ['timeuot', 'timeout', 1],
    ['kitten', 'sitting', 3],
    ['ca', 'abc', 3],
  ])('%j → %j: %i', (a, b, expected) => {
    expect(editDistance(a, b)).toBe(expected);
    expect(editDistance(b, a)).toBe(expected);
  });
});

describe('closestName', () => {
  const keys = ['job', 'interval', 'delay', 'lookback', 'runTimeout', 'catchUp', 'url', 'timeout'];

  it.each([
    ['intervall', 'interval'],
    ['timeuot', 'timeout'],
    ['runtimeout', 'runTimeout'],
    ['catchup', 'catchUp'],
    ['lokback', 'lookback'],
    ['urls', 'url'],
    ['Interval', 'interval'],
  ])('%j → %j', (name, expected) => {
    expect(closestName(name, keys)).toBe(expected);
  });

  it('suggests nothing when no candidate is near', () => {
    expect(closestName('metrics', keys)).toBeUndefined();
    expect(closestName('xyz', keys)).toBeUndefined();
    expect(closestName('metrics', ['retries'])).toBeUndefined();
    expect(closestName('a', [])).toBeUndefined();
  });
});
