/**
 * The closed catalogue of permissions, `resource.action`. Start-up syncs it into the
 * `permissions` table; roles may only grant what is listed here.
 */
export const PERMISSIONS = {
  "tenants.update": "Change the organisation's settings, such as its 2FA requirement",
  "users.read": "See the organisation's members and their roles",
  "users.manage": "Invite and remove members and change their roles",
  "roles.read": "See the organisation's roles and what they grant",
  "roles.manage": "Create, change and delete custom roles",
  "tokens.manage": "See and revoke other members' API tokens",
  "audit.read": "Search the organisation's audit log and verify its chain",
  "audit.export": "Export the organisation's audit log as CSV or JSON",
  "hosts.read": "See hosts, their facts, metrics and command history",
  "hosts.create": "Add hosts and issue enrolment commands",
  "hosts.update": "Rename hosts and run diagnostics on them",
  "hosts.delete": "Revoke hosts",
  "sites.read": "See sites and their settings",
  "sites.create": "Create sites",
  "sites.update": "Change sites' domains, PHP settings and workers",
  "sites.delete": "Delete sites",
  "deployments.read": "See deployments and their output",
  "deployments.create": "Deploy and roll back sites",
  "backups.read": "See backups and backup policies",
  "backups.create": "Run backups and change backup policies",
  "backups.restore": "Restore a site from a backup",
  "databases.read": "See site databases",
  "databases.create": "Create and drop site databases",
  "databases.reveal": "Reveal site database passwords",
  "firewall.read": "See firewall rules and bans",
  "firewall.manage": "Change firewall rules and bans",
  "logs.read": "Tail site and host logs live",
} as const;

/** One catalogue entry, such as `sites.create`. */
export type Permission = keyof typeof PERMISSIONS;

/** Every permission, in catalogue order. */
export const ALL_PERMISSIONS = Object.keys(PERMISSIONS) as Permission[];

/** Whether `value` names a catalogue permission (input from the wire is checked with this). */
export function isPermission(value: string): value is Permission {
  return Object.hasOwn(PERMISSIONS, value);
}

/**
 * Denials of these are written to the audit log, not only to the request log: someone probing
 * them is worth a compliance reviewer's attention.
 */
export const SENSITIVE_PERMISSIONS: ReadonlySet<Permission> = new Set<Permission>([
  "tenants.update",
  "users.manage",
  "roles.manage",
  "tokens.manage",
  "audit.read",
  "audit.export",
  "backups.restore",
  "databases.reveal",
  "firewall.manage",
  "hosts.delete",
]);

const RESOURCE_READS: Permission[] = [
  "hosts.read",
  "sites.read",
  "deployments.read",
  "backups.read",
  "databases.read",
  "firewall.read",
];

/** A role every tenant has; defined here, synced to the database, never edited there. */
export interface BuiltInRole {
  id: string;
  name: string;
  description: string;
  permissions: readonly Permission[];
}

/** The built-in roles, most powerful first. */
export const BUILT_IN_ROLES: readonly BuiltInRole[] = [
  {
    id: "role_owner",
    name: "owner",
    description: "Everything in the organisation, including its settings",
    permissions: ALL_PERMISSIONS,
  },
  {
    id: "role_admin",
    name: "admin",
    description: "Everything except the organisation's own settings",
    permissions: ALL_PERMISSIONS.filter((p) => p !== "tenants.update"),
  },
  {
    id: "role_developer",
    name: "developer",
    description: "Deploy sites, tail logs, and see everything the viewer sees",
    permissions: [...RESOURCE_READS, "deployments.create", "logs.read"],
  },
  {
    id: "role_viewer",
    name: "viewer",
    description: "Read-only access to hosts, sites, deployments, backups, databases and firewall",
    permissions: RESOURCE_READS,
  },
  {
    id: "role_auditor",
    name: "auditor",
    description: "Search, export and verify the audit log, nothing else",
    permissions: ["audit.read", "audit.export"],
  },
];

/** The built-in role a tenant's creator and first member holds. */
export const OWNER_ROLE_ID = "role_owner";
