import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './support/charts.js';

/** Copied beside this test, unchanged; source and license in schemas/README.md. */
const SCHEMA = join(REPO_ROOT, 'test', 'k8s', 'schemas', 'skaffold-v4beta14.json');

// biome-ignore lint/suspicious/noExplicitAny: skaffold configs are checked field by field
type Config = any;

function loadConfigs(text: string): Config[] {
  return parseAllDocuments(text, { uniqueKeys: true }).map((doc) => {
    if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('\n'));
    return doc.toJS();
  });
}

const configs = loadConfigs(readFileSync(join(REPO_ROOT, 'skaffold.yaml'), 'utf8'));
const byName = (name: string) => {
  const config = configs.find((c) => c.metadata?.name === name);
  if (!config) throw new Error(`no skaffold config named ${name}`);
  return config;
};

describe('skaffold.yaml', () => {
  const validate = () => {
    // The schema has custom keywords (x-intellij-html-description, preferredOrder): strict off.
    const ajv = new Ajv({ strict: false, allErrors: true });
    return ajv.compile(JSON.parse(readFileSync(SCHEMA, 'utf8')));
  };

  it('when each config is validated against the v4beta14 schema, then none has an error', () => {
    const check = validate();
    for (const config of configs) {
      const valid = check(config);
      expect(check.errors ?? [], `config ${config.metadata?.name}`).toEqual([]);
      expect(valid).toBe(true);
    }
  });

  it('when a config has a misspelt field, then the schema refuses it', () => {
    const check = validate();
    const broken = structuredClone(byName('signup-flow'));
    broken.build.artifacts[0].docker.dockerfiel = 'Dockerfile';
    expect(check(broken)).toBe(false);
  });

  it('when the apiVersion and kind are read, then every config is skaffold/v4beta14 Config', () => {
    // The schema types apiVersion as any string, so it is checked here.
    expect(configs.map((c) => [c.apiVersion, c.kind])).toEqual(
      configs.map(() => ['skaffold/v4beta14', 'Config']),
    );
  });

  it('when configs require others, then they deploy operators, platform, then the services', () => {
    expect(configs.map((c) => c.metadata.name)).toEqual(['operators', 'platform', 'signup-flow']);
    expect(byName('platform').requires).toEqual([{ configs: ['operators'] }]);
    expect(byName('signup-flow').requires).toEqual([{ configs: ['platform'] }]);
  });

  it('when files are referenced, then they exist', () => {
    const paths: string[] = [];
    const collect = (config: Config) => {
      for (const artifact of config.build?.artifacts ?? []) paths.push(artifact.docker.dockerfile);
      for (const release of config.deploy?.helm?.releases ?? []) {
        if (release.chartPath) paths.push(release.chartPath);
        paths.push(
          ...(release.valuesFiles ?? []),
          ...Object.values(release.setFiles ?? {}).map(String),
        );
      }
      paths.push(...(config.manifests?.rawYaml ?? []));
      for (const profile of config.profiles ?? []) {
        collect(profile);
        for (const patch of profile.patches ?? []) {
          if (Array.isArray(patch.value))
            paths.push(...patch.value.filter((v: unknown) => typeof v === 'string'));
        }
      }
    };
    for (const config of configs) collect(config);
    expect(paths.length).toBeGreaterThan(15);
    expect(paths.filter((p) => !existsSync(join(REPO_ROOT, p)))).toEqual([]);
  });

  it('when images are built, then each chart release takes its image from skaffold and its sync rule targets the image dist/', () => {
    const app = byName('signup-flow');
    for (const artifact of app.build.artifacts) {
      const service = artifact.image.split('/').pop();
      const key = artifact.image.replace(/[/-]/g, '_');
      const release = app.deploy.helm.releases.find((r: Config) => r.name === service);
      expect(release.setValueTemplates).toEqual({
        'image.repository': `{{.IMAGE_REPO_${key}}}`,
        'image.tag': `{{.IMAGE_TAG_${key}}}`,
      });
      expect(artifact.sync.manual[0]).toEqual({
        src: `services/${service}/dist/**/*.js`,
        dest: `/app/services/${service}/dist`,
        strip: `services/${service}/dist/`,
      });
      const dockerfile = readFileSync(join(REPO_ROOT, artifact.docker.dockerfile), 'utf8');
      // One Dockerfile for both: the artifact names its service.
      expect(artifact.docker.buildArgs).toEqual({ SERVICE: service });
      expect(dockerfile).toMatch(/^ARG SERVICE$/m);
      expect(dockerfile).toMatch(/^WORKDIR \/app\/services\/\$\{SERVICE\}$/m);
    }
  });

  it('when the dev loop runs, then the API, Jaeger UI, Grafana and Mailpit are port-forwarded', () => {
    const forwards = byName('signup-flow').portForward.map(
      (p: Config) => `${p.namespace}/${p.resourceName}:${p.localPort}`,
    );
    expect(forwards).toEqual(
      expect.arrayContaining([
        'signup-flow/user-service:8080',
        'observability/jaeger-query:16686',
        'monitoring/kube-prometheus-stack-grafana:3000',
        'mailpit/mailpit-http:8025',
      ]),
    );
  });

  it('when profiles are listed, then every config has dev (auto-activated by skaffold dev) and production', () => {
    for (const config of configs) {
      const names = config.profiles.map((p: Config) => p.name);
      expect(names).toEqual(['dev', 'production']);
      expect(config.profiles[0].activation).toEqual([{ command: 'dev' }]);
    }
    const natsRelease = byName('operators').profiles[0].patches[0];
    expect(byName('operators').deploy.helm.releases[2].name).toBe('nats');
    expect(natsRelease.value).toEqual(['k8s/nats/values-dev.yaml']);
  });
});
