import { describe, expect, it } from 'vitest';
import { ReplayBuffer } from '../../../lib/graphite/replay-buffer.ts';

const texts = (buffer: ReplayBuffer) => buffer.takeAll().map((chunk) => chunk.text);

describe('ReplayBuffer', () => {
  it('keeps the chunks of the last maxAge milliseconds', () => {
    const buffer = new ReplayBuffer(10_000, 1000);
    buffer.add('a', 1, 0);
    buffer.add('b', 1, 5_000);
    buffer.add('c', 1, 10_000);
    buffer.add('d', 1, 15_001); // 'a' and 'b' are now older than 10 s
    expect(texts(buffer)).toEqual(['c', 'd']);
    expect(buffer.lines).toBe(0);
  });

  it('dropOlderThan drops the chunks handed off before a time, whatever the floor', () => {
    const buffer = new ReplayBuffer(1000, 1000, 1_000_000);
    buffer.add('a', 1, 0);
    buffer.add('b', 2, 5_000);
    buffer.add('c', 3, 10_000);
    buffer.dropOlderThan(5_000);
    expect(buffer.oldestTime()).toBe(5_000);
    expect(buffer.lines).toBe(5);
    expect(texts(buffer)).toEqual(['b', 'c']);
    buffer.add('d', 1, 20_000);
    buffer.dropOlderThan(30_000);
    expect(buffer.oldestTime()).toBeUndefined();
    expect(buffer.lines).toBe(0);
  });

  it('ages chunks only as new ones are handed off, so an outage of any length replays the tail', () => {
    const buffer = new ReplayBuffer(10_000, 1000);
    buffer.add('a', 1, 0);
    buffer.add('b', 1, 1_000);
    // Connection lost; a minute later the buffer is taken for the replay, still whole.
    expect(texts(buffer)).toEqual(['a', 'b']);
  });

  it('covers at least maxLines lines, whole chunks only', () => {
    const buffer = new ReplayBuffer(60_000, 100);
    buffer.add('a', 60, 0);
    buffer.add('b', 60, 1);
    buffer.add('c', 60, 2); // b + c = 120 >= 100: 'a' goes
    expect(buffer.lines).toBe(120);
    expect(texts(buffer)).toEqual(['b', 'c']);
  });

  it('always keeps the newest minChars characters, however old and however many lines', () => {
    // A peer that stopped reading may still hold all of them unread in its kernel buffers.
    const buffer = new ReplayBuffer(10_000, 1, 12);
    buffer.add('aaaa', 1, 0);
    buffer.add('bbbb', 1, 1_000);
    buffer.add('cccc', 1, 60_000); // older than 10 s and over 1 line, but within the newest 12 characters
    buffer.add('dddd', 1, 61_000); // 'aaaa' now falls outside them
    expect(texts(buffer)).toEqual(['bbbb', 'cccc', 'dddd']);
  });

  it('restore appends chunks a lost connection did not get to replay', () => {
    const buffer = new ReplayBuffer(60_000, 1000);
    buffer.add('a', 1, 0);
    buffer.restore(
      [
        { text: 'b', lines: 1 },
        { text: 'c', lines: 1 },
      ],
      5,
    );
    expect(texts(buffer)).toEqual(['a', 'b', 'c']);
  });
});
