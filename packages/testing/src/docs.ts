import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * Each environment variable a README's `## Configuration` table documents (every backticked
 * upper-case name in a row's first column), with its row's "meaning" cell (the third column).
 */
export function documentedMeanings(readmePath: string): Record<string, string> {
  const readme = readFileSync(readmePath, 'utf8');
  const section = /^## Configuration\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1];
  if (!section) throw new Error(`${readmePath} has no "## Configuration" section`);
  const meanings: Record<string, string> = {};
  for (const line of section.split('\n').filter((row) => row.startsWith('| `'))) {
    const [names = '', , meaning = ''] = line.slice(1, line.lastIndexOf('|')).split('|');
    for (const [, name] of names.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) {
      meanings[name as string] = meaning.trim();
    }
  }
  return meanings;
}

/**
 * The tests that keep a service's README configuration table and its config schema one: the same
 * variables, each with the schema's description as its meaning.
 */
export function describeConfigTable(
  readmePath: string,
  shape: Record<string, { description?: string | undefined }>,
): void {
  describe('the README’s configuration table', () => {
    it('when compared with the schema, then it documents exactly the variables the service reads', () => {
      expect(Object.keys(documentedMeanings(readmePath)).sort()).toEqual(Object.keys(shape).sort());
    });

    it('when compared with the schema, then each variable’s meaning is the description the schema gives it', () => {
      const described = Object.fromEntries(
        Object.entries(shape).map(([name, schema]) => [name, schema.description]),
      );
      expect(documentedMeanings(readmePath)).toEqual(described);
    });
  });
}
