/**
 * Writes each service chart's values.schema.json from the values both charts share (common.json)
 * and the chart's own (<chart>.json): `npm run charts:schema` after editing either. Helm reads
 * only the generated file, and cannot take a schema fragment from a library chart.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SERVICE_CHARTS = ['user-service', 'messaging-service'];

const read = (file) => JSON.parse(readFileSync(new URL(file, import.meta.url), 'utf8'));

/** The values schema of `chart`, as Helm validates it. */
export function valuesSchema(chart) {
  const common = read('./common.json');
  const own = read(`./${chart}.json`);
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: own.title,
    type: 'object',
    additionalProperties: false,
    required: [...common.required, ...own.required],
    properties: { ...common.properties, ...own.properties },
  };
}

export function schemaPath(chart) {
  return fileURLToPath(new URL(`../${chart}/values.schema.json`, import.meta.url));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const chart of SERVICE_CHARTS) {
    writeFileSync(schemaPath(chart), `${JSON.stringify(valuesSchema(chart), null, 2)}\n`);
    console.log(`wrote ${schemaPath(chart)}`);
  }
}
