import { describe, expect, test } from "bun:test";
import { serverTarget, ServerUrlError } from "./server-url.ts";

describe("serverTarget", () => {
  test("leaves a TCP URL as it is, with no socket", () => {
    const url = "postgres://caddis:pw@127.0.0.1:5433/caddis?sslmode=require";
    expect(serverTarget(url)).toEqual({ url });
  });

  test("turns ?host=<directory> into the socket file, on the URL's port or 5432", () => {
    expect(serverTarget("postgres://caddis@localhost/caddis?host=/var/run/postgresql")).toEqual({
      url: "postgres://caddis@localhost/caddis",
      path: "/var/run/postgresql/.s.PGSQL.5432",
    });
    const other = serverTarget(
      "postgresql://caddis:pw@localhost:5433/caddis?host=/run/pg/&application_name=panel",
    );
    expect(other).toEqual({
      url: "postgresql://caddis:pw@localhost:5433/caddis?application_name=panel",
      path: "/run/pg/.s.PGSQL.5433",
    });
  });

  test("refuses a relative socket directory, a socket URL with no role, and no URL at all", () => {
    const bad = [
      "postgres://caddis@localhost/caddis?host=run/postgresql",
      "postgres://caddis@localhost/caddis?host=",
      "postgres:///caddis?host=/var/run/postgresql",
      "postgres://caddis@/caddis",
    ];
    for (const url of bad) expect(() => serverTarget(url)).toThrow(ServerUrlError);
  });
});
