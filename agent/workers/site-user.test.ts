import { describe, expect, test } from "bun:test";
import { findPasswdEntry, lookupUser } from "./site-user.ts";

const PASSWD = `root:x:0:0:root:/root:/bin/bash
site-blog:x:1001:1002:Blog:/srv/sites/blog:/usr/sbin/nologin
broken:x:abc:1:x:/x:/bin/sh
`;

describe("findPasswdEntry", () => {
  test("finds a user's ids and home", () => {
    expect(findPasswdEntry(PASSWD, "site-blog")).toEqual({
      uid: 1001,
      gid: 1002,
      home: "/srv/sites/blog",
    });
  });

  test("a missing user, a prefix of a name or a malformed entry is null", () => {
    expect(findPasswdEntry(PASSWD, "site")).toBeNull();
    expect(findPasswdEntry(PASSWD, "nobody")).toBeNull();
    expect(findPasswdEntry(PASSWD, "broken")).toBeNull();
    expect(findPasswdEntry(PASSWD, "")).toBeNull();
  });

  test("reads the host's own database", async () => {
    expect(await lookupUser("root")).toMatchObject({ uid: 0, gid: 0 });
  });
});
