// Entry of a test agent process (agent-process.ts): the real agent with the test command kinds,
// from the enrolled directory in AGENT_DIR, until SIGTERM or a harder signal.
import { runTestAgent } from "./test-agent.ts";

const dir = process.env.AGENT_DIR;
if (!dir) {
  console.error("test agent: AGENT_DIR is not set");
  process.exit(2);
}
const agent = await runTestAgent(dir);
process.once("SIGTERM", () => {
  void agent.stop().then(() => process.exit(0));
});
