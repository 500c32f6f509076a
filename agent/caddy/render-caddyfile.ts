// Renders the host's Caddyfile from Caddyfile.template (its header explains the syntax). The
// template is trusted; every value is not, so each is checked again here against an allowlist and
// a value that fails is refused with an error, never escaped: nothing a site sends can open a
// block, a placeholder, a comment or an import. Rendering is linear in the number of sites.
import { DesiredSite, DOMAIN_PATTERN, WORKER_PORT_BOUNDS } from "../protocol/sites.ts";

/** "system": ports 80/443 with automatic HTTPS; "sandbox": given high ports, plain HTTP. */
export type CaddyMode = "system" | "sandbox";

/** One enabled site as Caddy serves it. */
export interface CaddySite {
  id: string;
  /** The primary domain first, then aliases; already IDNA-converted. */
  domains: readonly string[];
  /** Worker ports on 127.0.0.1, from the site's pair: usually one, both while it restarts. */
  upstreams: readonly number[];
}

/** Everything the Caddyfile depends on. */
export interface CaddyRenderInput {
  /** Absolute path of Caddy's admin socket, in a 0700 directory. */
  adminSocket: string;
  mode: CaddyMode;
  httpPort: number;
  /** Null serves plain HTTP only, which only sandbox mode may do (system mode uses ACME). */
  httpsPort: number | null;
  /** Absolute directory for the per-site JSON access logs. */
  logDir: string;
  /** The panel's own domain (from CADDIS_PUBLIC_URL) and the API's "127.0.0.1:<port>". */
  panel: { domain: string; upstream: string } | null;
  sites: readonly CaddySite[];
}

/**
 * An absolute path whose segments hold only letters, digits, `.`, `_` and `-`, never `.` or `..`
 * alone, never starting with `-`: nothing Caddy would read as a placeholder, quote, comment or
 * separator, and nothing a command would read as an option.
 */
const SAFE_ABSOLUTE_PATH = /^(?:\/(?!\.{1,2}(?:\/|$)|-)[A-Za-z0-9._-]{1,255})+$/;
const MAX_PATH_LENGTH = 1024;
/** A unix socket path must fit `sun_path` (108 bytes with its terminating NUL). */
const MAX_SOCKET_PATH_LENGTH = 107;
const LOOPBACK_UPSTREAM = /^127\.0\.0\.1:([0-9]{1,5})$/;
const SECTION_LINE = /^\s*\{\{([#/])([a-z]+)\}\}\s*$/;
const VALUE = /\{\{([a-z_.]+)\}\}/g;

const GLOBAL_VALUES = ["admin_socket", "http_port", "https_port", "log_dir"];
/** Each section, and the values only it may use besides the global ones. */
const SECTIONS: Record<string, string[]> = {
  sandbox: [],
  https: [],
  panel: ["panel.addresses", "panel.upstream"],
  sites: ["site.id", "site.addresses", "site.upstreams"],
};

/** A run of template lines: literal text around value names, `literals.length = names.length + 1`. */
interface Block {
  section: string | null;
  literals: string[];
  names: string[];
}

type Values = Record<string, string>;

/** Renders the Caddyfile; throws an Error naming the site and field of any value it refuses. */
export function renderCaddyfile(template: string, input: CaddyRenderInput): string {
  const blocks = compileTemplate(template);
  const globals = globalValues(input);
  const panel = input.panel === null ? null : panelValues(input);
  const sites = siteValues(input, input.panel?.domain);
  const out: string[] = [];
  for (const block of blocks) {
    if (block.section === null) emit(out, block, globals, globals);
    else if (block.section === "sandbox") {
      if (input.mode === "sandbox") emit(out, block, globals, globals);
    } else if (block.section === "https") {
      if (input.httpsPort !== null) emit(out, block, globals, globals);
    } else if (block.section === "panel") {
      if (panel !== null) emit(out, block, panel, globals);
    } else for (const site of sites) emit(out, block, site, globals);
  }
  return out.join("");
}

function emit(out: string[], block: Block, local: Values, globals: Values): void {
  out.push(block.literals[0]!);
  for (let i = 0; i < block.names.length; i++) {
    const name = block.names[i]!;
    out.push(local[name] ?? globals[name]!, block.literals[i + 1]!);
  }
}

/** Splits the template into plain and section blocks, refusing anything it does not know. */
function compileTemplate(template: string): Block[] {
  const blocks: Block[] = [];
  let current: Block = { section: null, literals: [""], names: [] };
  const lines = template.split("\n");
  if (lines.at(-1) === "") lines.pop();
  lines.forEach((line, index) => {
    const fail = (why: string) => {
      throw new Error(`Caddyfile template line ${index + 1}: ${why}`);
    };
    if (line.trimStart().startsWith("##")) return;
    const marker = SECTION_LINE.exec(line);
    if (marker) {
      const [, kind, name] = marker as unknown as [string, string, string];
      if (!Object.hasOwn(SECTIONS, name)) fail(`unknown section "${name}"`);
      if (kind === "#" && current.section !== null) fail(`section "${name}" inside another`);
      if (kind === "/" && current.section !== name) fail(`"{{/${name}}}" closes no open section`);
      blocks.push(current);
      current = { section: kind === "#" ? name : null, literals: [""], names: [] };
      return;
    }
    const allowed = current.section === null ? [] : SECTIONS[current.section]!;
    let from = 0;
    for (const match of line.matchAll(VALUE)) {
      const name = match[1]!;
      if (!GLOBAL_VALUES.includes(name) && !allowed.includes(name)) {
        fail(`unknown value "{{${name}}}" here`);
      }
      current.literals[current.literals.length - 1] += line.slice(from, match.index);
      current.names.push(name);
      current.literals.push("");
      from = match.index + match[0].length;
    }
    const rest = line.slice(from);
    if (rest.includes("{{")) fail(`malformed "{{" (values look like {{name}})`);
    current.literals[current.literals.length - 1] += `${rest}\n`;
  });
  if (current.section !== null) {
    throw new Error(`Caddyfile template: "${current.section}" unclosed`);
  }
  blocks.push(current);
  return blocks;
}

/** Throws, quoting the value in printable ASCII so a refused value cannot forge log lines. */
function refuse(what: string, field: string, value: unknown): never {
  const json = typeof value === "number" ? String(value) : JSON.stringify(value) ?? String(value);
  const shown = json.slice(0, 100).replace(
    /[^\x20-\x7e]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  throw new Error(`Cannot render the Caddyfile: ${what} has an invalid ${field} (${shown})`);
}

function checkPort(what: string, field: string, value: unknown, min = 1, max = 65_535): number {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    refuse(what, field, value);
  }
  return value as number;
}

function checkPath(field: string, value: unknown, maxLength = MAX_PATH_LENGTH): string {
  if (typeof value !== "string" || value.length > maxLength || !SAFE_ABSOLUTE_PATH.test(value)) {
    refuse("the host config", field, value);
  }
  return value;
}

/** Deliberately not a type guard: narrowing the typed input to `any[]` would hide its types. */
function isNonEmptyList(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0;
}

function checkDomain(what: string, field: string, value: unknown): string {
  if (typeof value !== "string" || !DOMAIN_PATTERN.test(value)) refuse(what, field, value);
  return value;
}

function globalValues(input: CaddyRenderInput): Values {
  if (input.mode !== "system" && input.mode !== "sandbox") {
    refuse("the host config", "mode", input.mode);
  }
  // Only sandbox mode may go without HTTPS; null is otherwise as invalid as any other non-port.
  const plainHttp = input.httpsPort === null && input.mode === "sandbox";
  return {
    admin_socket: checkPath("adminSocket", input.adminSocket, MAX_SOCKET_PATH_LENGTH),
    http_port: String(checkPort("the host config", "httpPort", input.httpPort)),
    https_port: plainHttp ? "" : String(checkPort("the host config", "httpsPort", input.httpsPort)),
    log_dir: checkPath("logDir", input.logDir),
  };
}

/**
 * How a domain is written as a site address: bare in system mode (HTTPS with ACME), `http://` in
 * sandbox mode. Caddy puts either on the global http_port/https_port; writing the port into the
 * address instead would key the access log by `domain:port`, missing requests whose Host header
 * has no port (a client behind a port forward).
 */
function addressOf(input: CaddyRenderInput, domain: string): string {
  return input.mode === "sandbox" ? `http://${domain}` : domain;
}

function panelValues(input: CaddyRenderInput): Values {
  const panel = input.panel!;
  const domain = checkDomain("the panel", "domain", panel.domain);
  const port = typeof panel.upstream === "string" ? LOOPBACK_UPSTREAM.exec(panel.upstream) : null;
  if (port === null) refuse("the panel", "upstream", panel.upstream);
  checkPort("the panel", "upstream", Number(port[1]));
  return { "panel.addresses": addressOf(input, domain), "panel.upstream": panel.upstream };
}

/** Checks every site and returns their values sorted by id; a domain serves one site only. */
function siteValues(input: CaddyRenderInput, panelDomain: string | undefined): Values[] {
  if (!Array.isArray(input.sites as unknown)) {
    refuse("the host config", "sites", typeof input.sites);
  }
  const owners = new Map<string, string>();
  if (panelDomain !== undefined) owners.set(panelDomain, "the panel");
  const checked: { id: string; values: Values }[] = [];
  input.sites.forEach((site, index) => {
    if (!DesiredSite.shape.id.safeParse(site.id).success) refuse(`site #${index}`, "id", site.id);
    const what = `site "${site.id}"`;
    if (!isNonEmptyList(site.domains)) refuse(what, "domains", site.domains);
    if (!isNonEmptyList(site.upstreams)) refuse(what, "upstreams", site.upstreams);
    const addresses = site.domains.map((domain, i) => {
      checkDomain(what, `domains[${i}]`, domain);
      const owner = owners.get(domain);
      if (owner !== undefined) {
        throw new Error(
          `Cannot render the Caddyfile: ${what} has domain ${domain}, which ${owner} already serves`,
        );
      }
      owners.set(domain, what);
      return addressOf(input, domain);
    });
    // A site owns its even `port` and the one after it.
    const [min, max] = [WORKER_PORT_BOUNDS.min, WORKER_PORT_BOUNDS.max + 1];
    const upstreams = site.upstreams.map((port, i) =>
      `127.0.0.1:${checkPort(what, `upstreams[${i}]`, port, min, max)}`
    );
    const values = {
      "site.id": site.id,
      "site.addresses": addresses.join(", "),
      "site.upstreams": upstreams.join(" "),
    };
    checked.push({ id: site.id, values });
  });
  checked.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (let i = 1; i < checked.length; i++) {
    if (checked[i]!.id === checked[i - 1]!.id) {
      throw new Error(`Cannot render the Caddyfile: site "${checked[i]!.id}" is listed twice`);
    }
  }
  return checked.map((site) => site.values);
}
