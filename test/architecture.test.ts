/**
 * The layering both services share (README "Where to read on", each service's README): use cases in
 * `domain/` know no database, broker or web framework; those live in `data/`, `messaging/` and
 * `http/`, which the composition root (`service.ts`) wires.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const SERVICES = ['user-service', 'messaging-service'];
const INFRASTRUCTURE =
  /from '(knex|pg|koa|@koa\/router|nodemailer|@nats-io\/[^']+|@signup-flow\/(nats|postgres|instrumentation-nats))'/;

function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
    .map((file) => join(dir, file));
}

describe.each(SERVICES)('the %s', (service) => {
  const src = join(REPO, 'services', service, 'src');

  it('when its use cases are read, then none imports a database, broker or web framework', () => {
    const offending = sources(join(src, 'domain')).flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => INFRASTRUCTURE.test(line))
        .map((line) => `${file.slice(src.length + 1)}: ${line.trim()}`),
    );
    expect(offending).toEqual([]);
  });

  it('when started, then main.ts only hands the environment to service.ts through runMain', () => {
    const main = readFileSync(join(src, 'main.ts'), 'utf8');
    expect(main).toMatch(/runMain\(/);
    expect(main).toMatch(/from '\.\/service\.js'/);
    expect(main.split('\n').filter((line) => line.startsWith('import')).length).toBeLessThanOrEqual(
      4,
    );
  });
});
