/** Installs every pinned tool the local stack and the tests need (`npm run tools`). */
import { ensureGoTool, GO_TOOLS } from './tools.js';

for (const tool of Object.values(GO_TOOLS)) {
  const path = await ensureGoTool(tool, (line) => console.log(line));
  console.log(`${tool.name} ${tool.version}: ${path}`);
}
