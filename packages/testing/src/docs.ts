import { readFileSync } from 'node:fs';

/**
 * The environment variables a README's `## Configuration` table documents: every backticked
 * upper-case name in the first column of its rows.
 */
export function documentedVariables(readmePath: string): string[] {
  return Object.keys(documentedMeanings(readmePath));
}

/** Each variable of the table with its row's "meaning" cell (the third column). */
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
