// The rows of docs/reliability.md: what a fault-injection test recorded, and the table's sections.

export const SECTIONS = [
  'Graphite',
  'Poller process',
  'Source APIs',
  'Bad input',
  'Untrusted strings',
  'Secrets',
  'State directory',
] as const;
export type Section = (typeof SECTIONS)[number];

/** Column titles of each section's table (besides fault, injected and result). */
export const COLUMNS: Record<Section, [expected: string, observed: string]> = {
  Graphite: ['points expected', 'points in carbon'],
  'Poller process': ['points expected', 'points in carbon'],
  'Source APIs': ['expected', 'observed'],
  'Bad input': ['expected', 'observed'],
  'Untrusted strings': ['expected', 'observed'],
  Secrets: ['expected', 'observed'],
  'State directory': ['expected', 'observed'],
};

export interface Row {
  section: Section;
  fault: string;
  injected: string;
  /** What should arrive: points, or for faults without Graphite, the figures that define "works". */
  expected: string;
  /** What did: points read back from whisper, or what was observed. */
  observed: string;
}

export interface RecordedRow extends Row {
  /** vitest's name of the test that recorded the row ("suite > test"). */
  test: string;
  file: string;
}
