import { readdirSync, readFileSync } from 'node:fs';
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

describe('the library chart README', () => {
  it('when compared with its templates, then it lists exactly the callbacks they include, and each service chart defines them all', () => {
    const libDir = join(CHARTS_DIR, 'signup-flow-lib');
    const templates = readdirSync(join(libDir, 'templates'))
      .map((file) => readFileSync(join(libDir, 'templates', file), 'utf8'))
      .join('\n');
    const called = new Set(
      [...templates.matchAll(/include \(printf "%s\.(\w+)" \.Chart\.Name\)/g)].map((m) => m[1]),
    );
    const documented = new Set(
      [...readFileSync(join(libDir, 'README.md'), 'utf8').matchAll(/^- `<chart>\.(\w+)`/gm)].map(
        (m) => m[1],
      ),
    );
    expect([...documented].sort()).toEqual([...called].sort());
    for (const chart of SERVICE_CHARTS) {
      const own = readdirSync(join(CHARTS_DIR, chart, 'templates'))
        .filter((file) => file.endsWith('.tpl'))
        .map((file) => readFileSync(join(CHARTS_DIR, chart, 'templates', file), 'utf8'))
        .join('\n');
      for (const callback of called)
        expect(own, `${chart}.${callback}`).toContain(`define "${chart}.${callback}"`);
    }
  });
});

describe('the service charts’ values schemas', () => {
  it('when generated from charts/schema (the shared values once, each chart’s own apart), then they are what the charts hold: run `npm run charts:schema` after editing', async () => {
    const { valuesSchema, schemaPath } = await import('../../charts/schema/generate.mjs');
    for (const chart of SERVICE_CHARTS) {
      expect(JSON.parse(readFileSync(schemaPath(chart), 'utf8')), chart).toEqual(
        valuesSchema(chart),
      );
    }
  });
});
