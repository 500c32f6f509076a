// The site commands an agent runs: `site.restart` and `site.remove`, both for the command's site.
import { type CommandEnvelope, SiteRemovePayload } from "../protocol/commands.ts";
import type { CommandHandler } from "../command-handler.ts";
import type { Sites } from "./sites-applier.ts";

/** Handlers for the site command kinds, run against this host's sites. */
export function siteCommandHandlers(sites: Sites): Record<string, CommandHandler> {
  return {
    "site.restart": (_payload, { command }) => sites.restart(siteIdOf(command)),
    "site.remove": (payload, { command }) =>
      sites.remove(siteIdOf(command), SiteRemovePayload.parse(payload).purge),
  };
}

function siteIdOf(command: CommandEnvelope): string {
  if (command.siteId === null) throw new Error(`${command.kind} needs the site it is for`);
  return command.siteId;
}
