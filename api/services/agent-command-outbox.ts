// Writing a signed command into the outbox: the one statement that supersedes, inserts and
// announces it, either in the transaction of the change that caused it or, for a command that is
// the whole change, audited in that statement and handed to the host's socket when this replica
// holds it.
import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { rowsOf } from "../../db/migrate.ts";
import { agentCommands, auditLog, hosts } from "../../db/schema.ts";
import type { AppDeps } from "../deps.ts";
import type { SignedCommand } from "./agent-command-signing.ts";
import { type AppendedRow, appendedRow, type AuditAppend, type AuditRow } from "./audit.ts";
import { commandDoneNoticeSql, HOST_EVENTS_CHANNEL, type HostEvent } from "./host-events.ts";
import { hostNotFound } from "./host-view.ts";

/** Where the statement finds the command's host. */
export type HostSource =
  /** The caller's transaction already holds the host. */
  | { known: { id: string; tenantId: string } }
  /** The tenant's live host, locked like getLiveHostRefOrThrow does; missing, nothing is written. */
  | { live: { id: string; tenantId: string } };

/** What the statement may do besides writing the command. */
export interface OutboxOptions {
  /** Appended to the audit chain in the same statement. */
  audit?: AuditAppend;
  /**
   * This replica, which holds a ready socket for the host: when the database agrees and the
   * command may run now (no other open command of its site comes first), it is written `sent`,
   * for the caller to hand to that socket once this commits.
   */
  directFor?: string;
}

// Only by the primary key, then checked: a generic plan made while the table was small could
// otherwise walk the tenant's name index past every host of the tenant.
function hostCte(source: HostSource): SQL {
  if ("known" in source) {
    return sql`select ${source.known.id}::text as id, ${source.known.tenantId}::text as tenant_id,
      null::text as connected_replica`;
  }
  const { id, tenantId } = source.live;
  return sql`select id, tenant_id, connected_replica from (
      select id, tenant_id, revoked_at, connected_replica from ${hosts} where id = ${id}
      for key share
    ) as locked
    where tenant_id = ${tenantId} and revoked_at is null`;
}

/**
 * One statement, since every command passes here: it ends the older queued commands this one
 * replaces, inserts it (as `sent` when `directFor` allows), queues the notices (sent only if it
 * commits) that tell waiters the replaced ones ended and, for a command left queued, wake the
 * replica holding the host's socket, and appends the audit row when given. A command written
 * `sent` wakes nobody: its socket is this replica's, and should that close before the frame goes
 * out, the agent's reconnect sends every open command again (its hello waits for this statement:
 * see recordHello). Everything else on the new row is known already,
 * so only its `seq`, whether it went direct, and the audit row's chain fields come back; no row
 * comes back when the host was not found.
 */
export function outboxStatement(
  command: SignedCommand,
  host: HostSource,
  options: OutboxOptions = {},
): SQL {
  const at = (date: Date) => sql`${date.toISOString()}::timestamptz`;
  const sameSite = command.siteId === null
    ? sql`site_id is null`
    : sql`site_id = ${command.siteId}`;
  const { audit, directFor } = options;
  const mayRunNow = command.notBefore.getTime() <= command.createdAt.getTime();
  // CTEs share one snapshot: the commands `replaced` ends still look queued to `direct`.
  const direct = directFor !== undefined && mayRunNow
    ? sql`host.connected_replica = ${directFor} and not exists (
        select 1 from ${agentCommands}
        where host_id = host.id and ${sameSite} and state in ('queued', 'sent', 'running')
          and id not in (select id from replaced))`
    : sql`false`;
  const wake: HostEvent = { event: "commands", hostId: command.hostId, commandId: command.id };
  return sql`with host as (${hostCte(host)}), replaced as (
      update ${agentCommands} set state = 'superseded', finished_at = ${at(command.createdAt)},
        error = ${`superseded by ${command.id}`}
      where ${command.supersedes ? sql`true` : sql`false`}
        and host_id = (select id from host) and ${sameSite}
        and kind = ${command.kind} and state = 'queued'
      returning id
    ), direct as (
      select ${direct} as sent from host
    ), inserted as (
      insert into ${agentCommands} (id, host_id, tenant_id, site_id, kind, payload, body,
        signature, issued_by, created_at, not_before, expires_at, state, sent_at, deliveries)
      select ${command.id}, host.id, host.tenant_id, ${command.siteId}, ${command.kind},
        ${JSON.stringify(command.payload)}::jsonb, ${command.body}, ${command.signature},
        ${command.issuedBy}, ${at(command.createdAt)}, ${at(command.notBefore)},
        ${at(command.expiresAt)},
        case when direct.sent then 'sent' else 'queued' end,
        case when direct.sent then ${at(command.createdAt)} end,
        case when direct.sent then 1 else 0 end
      from host, direct
      returning seq, state
    ), notices as (
      select ${commandDoneNoticeSql(sql`${command.hostId}::text`, sql`id`)} from replaced
      union all
      select pg_notify(${HOST_EVENTS_CHANNEL}, ${JSON.stringify(wake)}) from inserted
      where inserted.state = 'queued'
    ), audited as (
      select ${
    audit ? sql`${audit.call} as appended from inserted` : sql`null::${auditLog} as appended`
  }
    )
    select inserted.seq as command_seq, inserted.state = 'sent' as direct,
      (select count(*) from notices) as notices, (audited.appended).seq,
      (audited.appended).occurred_at, (audited.appended).prev_hash, (audited.appended).hash
    from inserted left join audited on true`;
}

// The audit row's fields are null when no audit was asked for.
type OutboxRow =
  & { command_seq: string | number; direct: boolean }
  & (AppendedRow | {
    seq: null;
  });

/** What writing a command came to. */
export interface WrittenCommand {
  seq: number;
  /** Written `sent`, for the socket of `directFor`. */
  direct: boolean;
  /** The audit row, when one was given. */
  audited: AuditRow | null;
}

/** Runs `outboxStatement` on `db`. */
export async function writeCommand(
  db: Db,
  command: SignedCommand,
  host: HostSource,
  options: OutboxOptions = {},
): Promise<WrittenCommand> {
  const [row] = rowsOf<OutboxRow>(await db.execute(outboxStatement(command, host, options)));
  if (!row) {
    if ("live" in host) throw hostNotFound();
    throw new Error("agent command insert returned no row");
  }
  const { audit } = options;
  if (audit && row.seq === null) throw new Error("agent command audit returned no row");
  const audited = audit && row.seq !== null ? appendedRow(audit, row) : null;
  return { seq: Number(row.command_seq), direct: row.direct, audited };
}

/**
 * Writes a command that is the whole change (a diagnose, say) in one autocommit statement with
 * its audit row, so the audit chain's lock is held for no round trip to this process. When this
 * replica holds the host's socket the command goes out as soon as it commits, rather than after
 * its NOTIFY comes back and a delivery pass reads it again.
 */
export async function issueCommand(
  deps: AppDeps,
  command: SignedCommand,
  host: { live: { id: string; tenantId: string } },
  audit: AuditAppend,
): Promise<WrittenCommand> {
  const delivery = deps.agentHub.reserveDelivery(host.live.id, command.id);
  let written: WrittenCommand | undefined;
  try {
    written = await writeCommand(deps.database.db, command, host, {
      audit,
      directFor: delivery ? deps.replicaId : undefined,
    });
    return written;
  } finally {
    const frame = { body: command.body, signature: command.signature };
    delivery?.written(written ? { sent: written.direct, frame } : null);
  }
}
