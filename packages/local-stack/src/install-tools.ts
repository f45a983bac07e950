/** Installs every pinned tool the local stack and the tests need (`npm run tools`). */
import { ensureGoTool, installInLanes, toolLanes } from './tools.js';

const failures = await installInLanes(toolLanes(), async (tool) => {
  const path = await ensureGoTool(tool, (line) => console.log(line));
  console.log(`${tool.name} ${tool.version}: ${path}`);
});
for (const reason of failures) {
  console.error(reason instanceof Error ? reason.message : String(reason));
}
if (failures.length > 0) process.exitCode = 1;
