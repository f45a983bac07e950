/** `npm run demo`: signs a user up against the running `npm start` stack and shows where to look. */
import { runDemo } from '../demo.js';
import { stackPorts } from '../stack.js';

const ports = stackPorts(process.env);
try {
  await runDemo(
    {
      api: `http://127.0.0.1:${ports.userService}`,
      inbox: `http://127.0.0.1:${ports.inbox}`,
      jaeger: `http://127.0.0.1:${ports.jaeger}`,
    },
    (line) => console.log(line),
  );
} catch (error) {
  console.error(
    `demo failed: ${error instanceof Error ? error.message : error}\nIs the stack running? Start it with npm start.`,
  );
  process.exitCode = 1;
}
