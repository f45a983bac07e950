import { readFileSync } from 'node:fs';

/**
 * The environment variables a README's `## Configuration` table documents: every backticked
 * upper-case name in the first column of its rows.
 */
export function documentedVariables(readmePath: string): string[] {
  const readme = readFileSync(readmePath, 'utf8');
  const section = /^## Configuration\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1];
  if (!section) throw new Error(`${readmePath} has no "## Configuration" section`);
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...(line.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)])
    .map(([, name]) => name as string);
}
