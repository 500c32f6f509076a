// A result the API cannot store (the database refuses the write) is not lost: the hub drops the
// socket, the agent reconnects, the API re-sends the still-running command, and the agent answers
// from its journal without running it again.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import type { AgentServer } from "../testing/agent-server.ts";
import { addTestTenant } from "../testing/members.ts";
import { waitFor } from "../testing/wait.ts";
import {
  enrolTestAgent,
  issueCommands,
  startChannelServer,
  waitCommandState,
  waitOnline,
} from "./channel-harness.ts";
import { runTestAgent } from "./test-agent.ts";
import { readExecutions } from "./test-handlers.ts";

setDefaultTimeout(30_000);

let server: AgentServer;
let tenantId: string;

beforeAll(async () => {
  server = await startChannelServer();
  tenantId = await addTestTenant(server.testApp, "Acme");
  // While `refuse_results` holds a row, storing any command outcome fails as a blip would.
  const raw = server.testApp.database.rawSql;
  await raw("create table refuse_results (on_purpose boolean)");
  await raw(`create function refuse_result() returns trigger language plpgsql as $$
    begin
      if exists (select 1 from refuse_results) then
        raise exception 'result storage refused by the test';
      end if;
      return new;
    end $$`);
  await raw(`create trigger refuse_result before update on agent_commands for each row
    when (new.state in ('succeeded', 'failed')) execute function refuse_result()`);
});
afterAll(() => server.close());

test("a result the API failed to store arrives after the reconnect, and the command ran once", async () => {
  const { host, dir, remove } = await enrolTestAgent(server, tenantId, "blip");
  const agent = await runTestAgent(dir);
  try {
    await waitOnline(server, agent);
    await server.testApp.database.rawSql("insert into refuse_results values (true)");
    const [command] = await issueCommands(server, host, [{ kind: "test.record" }]);
    await waitFor("the command to run", async () => (await readExecutions(dir)).length === 1);
    await waitFor("the hub to drop the socket", () => !agent.isConnected());
    expect((await waitCommandState(server, host, command!.id, "running")).finishedAt).toBeNull();

    await server.testApp.database.rawSql("delete from refuse_results");
    const done = await waitCommandState(server, host, command!.id, "succeeded");
    expect(done.deliveries).toBeGreaterThanOrEqual(2);
    expect((await readExecutions(dir)).map((e) => e.id)).toEqual([command!.id]);
  } finally {
    await agent.stop();
    await remove();
  }
});
