import { eq } from "drizzle-orm";
import type { Context, MiddlewareHandler } from "hono";
import type { Db } from "../../db/client.ts";
import { tenants } from "../../db/schema.ts";
import type { AppDeps, AppEnv, RequestAuth } from "../deps.ts";
import { AppError } from "../errors.ts";
import { readCookie, TENANT_COOKIE } from "./cookies.ts";

/** The request header that picks which of the caller's tenants a request acts in. */
export const TENANT_HEADER = "X-Caddis-Tenant";

const TENANT_ID = /^ten_[a-z0-9_]{1,60}$/;

async function tenantExists(db: Db, id: string): Promise<boolean> {
  const [row] = await db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, id));
  return row !== undefined;
}

/** Whether `auth` may act in tenant `id`: a member of it, or a superuser when it exists. */
export async function tenantVisibleTo(
  deps: AppDeps,
  auth: RequestAuth,
  id: string,
): Promise<boolean> {
  return TENANT_ID.test(id) &&
    (auth.tenantIds.includes(id) || (auth.isSuperuser && await tenantExists(deps.database.db, id)));
}

/**
 * The tenant a browser chose with the panel's switcher (the tenant cookie), when it is one the
 * caller may act in. Only cookie sessions read it: API clients say what they mean in the header.
 * A stale or forged choice (membership since removed, another tenant's id) is simply ignored.
 */
async function cookieTenant(
  deps: AppDeps,
  c: Context<AppEnv>,
  auth: RequestAuth,
): Promise<string | undefined> {
  if (auth.via !== "cookie") return undefined;
  const chosen = readCookie(c, TENANT_COOKIE);
  return chosen !== undefined && (await tenantVisibleTo(deps, auth, chosen)) ? chosen : undefined;
}

/**
 * Settles the tenant a signed-in request acts in: the one named by `X-Caddis-Tenant` when the
 * caller belongs to it (a superuser: any tenant), else the browser's switcher choice, else the
 * caller's first. A tenant the caller may not see in the header answers exactly like one that does
 * not exist, so ids cannot be probed.
 */
export function activeTenant(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const auth = c.get("auth");
    const requested = c.req.header(TENANT_HEADER);
    let tenantId: string | undefined = auth?.tenantIds[0];
    if (auth && requested !== undefined) {
      if (!(await tenantVisibleTo(deps, auth, requested))) {
        throw new AppError("not_found", `Tenant not found (${TENANT_HEADER})`);
      }
      tenantId = requested;
    } else if (auth) {
      tenantId = (await cookieTenant(deps, c, auth)) ?? tenantId;
    }
    c.set("tenantId", tenantId);
    await next();
  };
}
