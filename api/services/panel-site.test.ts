import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { newId } from "../../db/ids.ts";
import { hosts, tenants } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { superuserAccess } from "../../scripts/testing/auth.ts";
import { insertEnrolledHost } from "../../scripts/testing/protocol-client.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { desiredStateFor } from "./desired-state.ts";
import { panelDomain, panelSite } from "./panel-site.ts";
import { CreateSiteInput } from "./site-inputs.ts";
import { createSite } from "./sites.ts";

describe("panelSite", () => {
  test("is the public URL's domain and the API's port; addresses and localhost are none", () => {
    expect(panelSite({ publicUrl: "https://Panel.Example.com", port: 8080 })).toEqual({
      domain: "panel.example.com",
      apiPort: 8080,
    });
    for (const publicUrl of ["http://127.0.0.1:8080", "http://[::1]:8080", "http://localhost"]) {
      expect(panelDomain({ publicUrl })).toBeNull();
    }
    expect(panelSite({ publicUrl: "https://panel.example.com", port: 0 })).toBeNull();
  });
});

describe("the panel on its host", () => {
  let t: TestApp;
  let deps: AppDeps;
  let tenantId: string;

  beforeAll(async () => {
    t = await createTestApp();
    deps = {
      ...t.deps,
      config: { ...t.deps.config, publicUrl: "https://panel.example.com", port: 8080 },
    };
    tenantId = newId("ten");
    await t.deps.database.db.insert(tenants).values({ id: tenantId, name: "Acme" });
  });
  afterAll(() => t.close());

  test("only the API's own host is told to serve it", async () => {
    const db = t.deps.database.db;
    const local = await insertEnrolledHost(db, tenantId, "local");
    await db.update(hosts).set({ isLocal: true }).where(eq(hosts.id, local.hostId));
    const remote = await insertEnrolledHost(db, tenantId, "web-2");
    expect((await desiredStateFor(deps, local.hostId)).panel).toEqual({
      domain: "panel.example.com",
      apiPort: 8080,
    });
    expect((await desiredStateFor(deps, remote.hostId)).panel).toBeUndefined();
  });

  test("no site may take its domain, in any spelling", async () => {
    const { hostId } = await insertEnrolledHost(t.deps.database.db, tenantId, "web-3");
    for (const domain of ["PANEL.example.com.", "ok.example.com"]) {
      const aliases = domain.startsWith("ok") ? ["panel.example.com"] : [];
      const input = CreateSiteInput.parse({ hostId, domain, aliases });
      const attempt = createSite(
        deps,
        superuserAccess(tenantId),
        { actor: { kind: "system" } },
        input,
      );
      await expect(attempt).rejects.toThrow(
        new AppError("conflict", `The domain "panel.example.com" is the panel's own address`),
      );
    }
  });
});
