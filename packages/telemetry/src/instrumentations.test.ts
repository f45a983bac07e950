import { type Instrumentation, InstrumentationBase } from '@opentelemetry/instrumentation';
import { describe, expect, it } from 'vitest';
import { HOOKED_MODULES } from './hooked-modules.js';
import { serviceInstrumentations } from './instrumentations.js';

function patchedModules(instrumentations: Instrumentation[]): string[] {
  return instrumentations.flatMap((instrumentation) =>
    instrumentation instanceof InstrumentationBase
      ? instrumentation.getModuleDefinitions().map((definition) => definition.name)
      : [],
  );
}

describe('the in-thread ESM hook', () => {
  it('when compared with the instrumentations the services run, then it wraps exactly the modules they patch', () => {
    const instrumentations = serviceInstrumentations();
    try {
      expect([...new Set(patchedModules(instrumentations))].sort()).toEqual(
        [...HOOKED_MODULES].sort(),
      );
    } finally {
      for (const instrumentation of instrumentations) instrumentation.disable();
    }
  });
});
