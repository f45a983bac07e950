import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CHARTS_DIR, SERVICE_CHARTS } from './support/charts.js';

/** Maps whose entries are free-form (labels, resources…) are documented as one row. */
const OPAQUE =
  /(labels|Labels|annotations|Annotations|resources|requests|limits|seccompProfile|nodeSelector|extraConfig|podSecurityContext)$/;

function leafKeys(value: unknown, prefix = ''): string[] {
  if (
    value &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.keys(value).length > 0 &&
    !OPAQUE.test(prefix)
  ) {
    return Object.entries(value).flatMap(([key, child]) =>
      leafKeys(child, prefix ? `${prefix}.${key}` : key),
    );
  }
  return [prefix];
}

describe.each(SERVICE_CHARTS)('the %s chart README', (chart) => {
  const read = (file: string) => readFileSync(join(CHARTS_DIR, chart, file), 'utf8');

  it('when compared with values.yaml, then its values table lists every key and no stale one', () => {
    const documented = [...read('README.md').matchAll(/^\| `([^`]+)`\s*\|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(leafKeys(parse(read('values.yaml'))).sort());
  });

  it('when values.yaml is opened in an editor, then its first line points at the schema', () => {
    expect(read('values.yaml').split('\n')[0]).toBe(
      '# yaml-language-server: $schema=./values.schema.json',
    );
  });

  it('when the schema is read, then it closes the top level so misspelt values fail', () => {
    const schema = JSON.parse(read('values.schema.json'));
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(Object.keys(parse(read('values.yaml')))),
    );
  });
});
