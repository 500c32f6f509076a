import type { Tx } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { memberships, userRoles } from "../../db/schema.ts";

/**
 * Makes `userId` a member of `tenantId` holding `roleIds` tenant-wide, inside the caller's
 * transaction. Joining twice keeps the first membership; a role already held is not duplicated.
 */
export async function addMembership(
  tx: Tx,
  member: { tenantId: string; userId: string; roleIds: readonly string[] },
): Promise<void> {
  await tx.insert(memberships).values({ tenantId: member.tenantId, userId: member.userId })
    .onConflictDoNothing();
  if (member.roleIds.length === 0) return;
  await tx.insert(userRoles).values(member.roleIds.map((roleId) => ({
    id: newId("ura"),
    tenantId: member.tenantId,
    userId: member.userId,
    roleId,
  }))).onConflictDoNothing();
}
