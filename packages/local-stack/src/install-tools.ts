/**
 * Installs every pinned tool the local stack and the tests need (`npm run tools`), in two lanes at
 * once: a Go build keeps both cores of a small machine busy only while it compiles, not while it
 * resolves and downloads modules or links, and the other lane's build fills those gaps. The
 * Kubernetes binaries share one module graph and build cache, so they go one after another in a
 * lane of their own: side by side they would compile the same packages twice.
 */
import { ensureGoTool, GO_TOOLS, type GoTool, KUBERNETES_TOOLS } from './tools.js';

const kubernetes: GoTool[] = Object.values(KUBERNETES_TOOLS);
const lanes = [Object.values(GO_TOOLS).filter((tool) => !kubernetes.includes(tool)), kubernetes];

async function installLane(tools: GoTool[]): Promise<void> {
  for (const tool of tools) {
    const path = await ensureGoTool(tool, (line) => console.log(line));
    console.log(`${tool.name} ${tool.version}: ${path}`);
  }
}

const failures = (await Promise.allSettled(lanes.map(installLane))).filter(
  (result): result is PromiseRejectedResult => result.status === 'rejected',
);
for (const { reason } of failures)
  console.error(reason instanceof Error ? reason.message : String(reason));
if (failures.length > 0) process.exitCode = 1;
