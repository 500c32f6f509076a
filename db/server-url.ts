// How a DATABASE_URL reaches its server: over TCP, or through a Unix socket named libpq's way,
// `postgres://caddis@localhost/caddis?host=/var/run/postgresql`. A PostgreSQL on the panel's own
// host is usually reached through its socket: no TCP stack on every query, and `peer` login
// with no password to keep. postgres-js reads no `host` parameter from a URL (it sends it to the
// server as a setting, which refuses it), so the socket is taken out here and passed as a path.
import postgres from "postgres";

/** What postgres-js needs to connect: the URL left, and the socket file when there is one. */
export interface ServerTarget {
  url: string;
  /** The socket file, `<host>/.s.PGSQL.<port>`. */
  path?: string;
}

/** A DATABASE_URL that names no reachable server; the message says how to write it. */
export class ServerUrlError extends Error {}

const DEFAULT_PORT = "5432";

/** Parses `url`: a socket directory in `?host=` becomes the socket path, the rest stays. */
export function serverTarget(url: string): ServerTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ServerUrlError("is not a URL (postgres://USER@HOST:PORT/DATABASE)");
  }
  const socketDir = parsed.searchParams.get("host");
  if (socketDir === null) return { url };
  if (!socketDir.startsWith("/")) {
    throw new ServerUrlError(
      `host=${socketDir} must be the socket's directory, an absolute path such as /var/run/postgresql`,
    );
  }
  // The server takes the role from the URL; without one, postgres-js would guess the OS user
  // and, on Bun, get it wrong ("unknown").
  if (!parsed.username) {
    throw new ServerUrlError(
      "a socket connection needs the role in the URL: postgres://ROLE@localhost/DATABASE?host=" +
        socketDir,
    );
  }
  parsed.searchParams.delete("host");
  const port = parsed.port || DEFAULT_PORT;
  return { url: parsed.toString(), path: `${socketDir.replace(/\/+$/, "")}/.s.PGSQL.${port}` };
}

/** A postgres-js client for `url`, through its socket when it names one (see serverTarget). */
export function serverClient(url: string, options: postgres.Options<Record<string, never>>) {
  const { url: rest, path } = serverTarget(url);
  return postgres(rest, { ...options, path });
}
