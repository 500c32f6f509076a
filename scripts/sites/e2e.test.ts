import { afterAll, expect, setDefaultTimeout } from "bun:test";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { CommandView } from "../../api/services/agent-commands.ts";
import type { SiteView } from "../../api/services/site-view.ts";
import { expectJson } from "../replicas/api-process.ts";
import { testWithTools } from "../testing/tools.ts";
import { waitFor } from "../testing/wait.ts";
import { type EmbeddedPanel, startEmbeddedPanel } from "./embedded-panel.ts";

// The whole path a user takes, with the real tools: `bun api/main-bun.ts` on PGlite runs its
// embedded agent, which runs Caddy and a php-cli worker; a site created through the JSON API is
// then served through Caddy by its Host header, and every later change shows there too.
setDefaultTimeout(180_000);

let panel: EmbeddedPanel | undefined;
afterAll(async () => {
  await panel?.stop();
});

const call = (method: string, path: string, body?: unknown) => panel!.call(method, path, body);

async function site(id: string): Promise<SiteView> {
  return (await expectJson<{ site: SiteView }>(await call("GET", `/sites/${id}`), 200)).site;
}

async function served(domain: string, expected: string): Promise<void> {
  await waitFor(`"${expected}" served for ${domain}`, async () => {
    return (await panel!.throughCaddy(domain)).body.includes(expected);
  }, 30_000);
}

async function commandEnds(id: string): Promise<CommandView> {
  let command: CommandView | undefined;
  await waitFor(`command ${id} to end`, async () => {
    const res = await call("GET", `/hosts/${panel!.localHostId}/commands/${id}`);
    command = (await expectJson<{ command: CommandView }>(res, 200)).command;
    return !["queued", "sent", "running"].includes(command.state);
  }, 60_000);
  return command!;
}

testWithTools(
  ["caddy", "php"],
  "a site goes from the JSON API through the embedded agent to Caddy and php-cli, and back out",
  async () => {
    panel = await startEmbeddedPanel();
    const { dataDir, httpPort } = panel;
    const hostIdOf = panel.localHostId;

    const created = await expectJson<{ site: SiteView }>(
      await call("POST", "/sites", {
        hostId: hostIdOf,
        domain: "shop.e2e.example",
        runtime: "php-cli",
        env: { GREETING: "hello" },
      }),
      201,
    );
    const id = created.site.id;
    expect(created.site.httpPort).toBe(httpPort);
    await waitFor("the site running", async () => (await site(id)).status === "running", 60_000);
    const running = await site(id);
    expect(running.docrootPath).toStartWith(dataDir);
    await writeFile(
      join(running.docrootPath!, "index.php"),
      '<?php echo getenv("GREETING") . " from " . $_SERVER["HTTP_HOST"];',
    );
    await served("shop.e2e.example", "hello from shop.e2e.example");
    // The worker listens on loopback only.
    const listening = await readFile("/proc/net/tcp", "utf8");
    const hexPort = running.livePort!.toString(16).toUpperCase().padStart(4, "0");
    expect(listening).toContain(`0100007F:${hexPort} 00000000:0000 0A`);
    expect(listening).not.toContain(`00000000:${hexPort} 00000000:0000 0A`);

    // A hostile domain is refused before anything is written: the Caddyfile stays as it was.
    const caddyfile = join(dataDir, "agent", "caddy", "Caddyfile");
    const before = {
      text: await readFile(caddyfile, "utf8"),
      mtime: (await stat(caddyfile)).mtimeMs,
    };
    for (const domain of ["evil.example {\n}\nimport /etc/passwd", "{env.CADDIS_SECRET_KEY}.x"]) {
      const res = await call("POST", "/sites", { hostId: hostIdOf, domain });
      expect(res.status).toBe(400);
    }
    expect(await readFile(caddyfile, "utf8")).toBe(before.text);
    expect((await stat(caddyfile)).mtimeMs).toBe(before.mtime);

    // An update: a new alias and a new environment reach Caddy and the worker.
    await expectJson(
      await call("PATCH", `/sites/${id}`, {
        aliases: ["www.shop.e2e.example"],
        env: { GREETING: "welcome" },
      }),
      200,
    );
    await served("www.shop.e2e.example", "welcome from www.shop.e2e.example");
    await served("shop.e2e.example", "welcome from shop.e2e.example");

    // A restart moves the worker to the other port of its pair and keeps serving.
    const portBefore = (await site(id)).livePort;
    const restart = await expectJson<{ command: CommandView }>(
      await call("POST", `/sites/${id}/restart`),
      202,
    );
    expect((await commandEnds(restart.command.id)).state).toBe("succeeded");
    await waitFor("the new live port reported", async () => {
      const now = await site(id);
      return now.livePort !== portBefore && now.status === "running";
    }, 30_000);
    await served("shop.e2e.example", "welcome from shop.e2e.example");

    // Stopped: no longer served, files kept.
    await expectJson(await call("PATCH", `/sites/${id}`, { enabled: false }), 200);
    await waitFor("the site stopped", async () => (await site(id)).status === "stopped", 30_000);
    await waitFor("the site no longer served", async () => {
      return !(await panel!.throughCaddy("shop.e2e.example")).body.includes("welcome");
    }, 30_000);
    expect((await stat(join(running.docrootPath!, "index.php"))).isFile()).toBe(true);

    // Deleted: the files move to the trash and the name is free again.
    const removed = await expectJson<{ command: CommandView }>(
      await call("DELETE", `/sites/${id}`),
      202,
    );
    const ended = await commandEnds(removed.command.id);
    expect(ended.state).toBe("succeeded");
    expect((await call("GET", `/sites/${id}`)).status).toBe(404);
    const trash = await readdir(join(dataDir, "agent", "trash"));
    expect(trash.some((entry) => entry.startsWith(id))).toBe(true);
    await expect(stat(running.docrootPath!)).rejects.toThrow();
    expect((await panel.throughCaddy("shop.e2e.example")).body).not.toContain("welcome");
  },
);
