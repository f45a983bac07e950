import { describe, expect, it } from 'vitest';
import { GO_TOOLS, type GoTool, installInLanes, KUBERNETES_TOOLS, toolLanes } from './tools.js';

describe('toolLanes', () => {
  it('holds every pinned tool once, the Kubernetes binaries together in their order', () => {
    const lanes = toolLanes();
    expect(
      lanes
        .flat()
        .map((tool) => tool.name)
        .sort(),
    ).toEqual(
      Object.values(GO_TOOLS)
        .map((tool) => tool.name)
        .sort(),
    );
    expect(lanes).toContainEqual(Object.values(KUBERNETES_TOOLS));
  });
});

describe('installInLanes', () => {
  const tool = (name: string) => ({ name }) as GoTool;

  it('when one lane fails, then the other finishes, the failing lane stops, and its failure is returned', async () => {
    const installed: string[] = [];
    const failures = await installInLanes(
      [
        [tool('a1'), tool('a2'), tool('a3')],
        [tool('b1'), tool('b2')],
      ],
      async ({ name }) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        if (name === 'a2') throw new Error('cannot build a2');
        installed.push(name);
      },
    );
    expect(installed.sort()).toEqual(['a1', 'b1', 'b2']);
    expect(failures).toEqual([new Error('cannot build a2')]);
  });

  it('when every tool installs, then no failure is returned', async () => {
    expect(await installInLanes([[tool('a')], [tool('b')]], async () => undefined)).toEqual([]);
  });
});
