import { describe, expect, test } from "bun:test";
import type { ZodType } from "zod";
import {
  DOMAIN_PATTERN,
  ENV_NAME_PATTERN,
  RELATIVE_PATH_PATTERN,
} from "../../agent/protocol/sites.ts";
import {
  BLNS_STRINGS,
  CADDYFILE_PAYLOADS,
  HOSTILE_STRINGS,
  PATH_PAYLOADS,
  SHELL_PAYLOADS,
  UNICODE_TRICKS,
} from "../../scripts/testing/hostile-strings.ts";
import { CreateSiteInput, normaliseDomain, UpdateSiteInput } from "./site-inputs.ts";

const BASE = { hostId: "host_abc234", domain: "example.com" };

/** Parses like `api/validate.ts` does: each failing field by name, with its first message. */
function parse(schema: ZodType, input: unknown) {
  const result = schema.safeParse(input);
  const fields: Record<string, string> = {};
  for (const issue of result.error?.issues ?? []) {
    fields[issue.path.length > 0 ? issue.path.join(".") : "(body)"] ??= issue.message;
  }
  return { data: result.data as Record<string, unknown> | undefined, fields };
}

/** The names of the fields that failed. */
function failedFields(schema: ZodType, input: unknown): string[] {
  return Object.keys(parse(schema, input).fields);
}

// What an accepted value must never hold, whichever allowlist let it through.
const UNSAFE = /[{}"'`\\#;$|&<>\s\p{C}]/u;

function expectDomainRefused(text: string): void {
  const result = normaliseDomain(text);
  if (result.ok) throw new Error(`accepted ${JSON.stringify(text)} as ${result.domain}`);
}

const LABEL_63 = "a".repeat(63);
const NAME_253 = `${LABEL_63}.${LABEL_63}.${LABEL_63}.${"b".repeat(61)}`;

describe("normaliseDomain", () => {
  test("lowercases, drops one trailing dot and converts Unicode to punycode", () => {
    const cases = {
      "EXAMPLE.com": "example.com",
      "example.com.": "example.com",
      "Www.Example.COM.": "www.example.com",
      "bücher.example": "xn--bcher-kva.example",
      "BÜCHER.example": "xn--bcher-kva.example",
      "xn--bcher-kva.example": "xn--bcher-kva.example",
      // IDNA's other full stops count as dots.
      "example\u3002com": "example.com",
      "example\uff0ecom\uff0e": "example.com",
      [`${LABEL_63}.com`]: `${LABEL_63}.com`,
      [NAME_253]: NAME_253,
      [`${NAME_253}.`]: NAME_253,
    };
    for (const [text, domain] of Object.entries(cases)) {
      expect({ text, result: normaliseDomain(text) }).toEqual({
        text,
        result: { ok: true, domain },
      });
    }
  });

  // Each rule refuses its examples with a reason that says which rule it was.
  const refusals: [rule: string, reason: RegExp, texts: string[]][] = [
    ["empty labels and more than one trailing dot", /empty label/, [
      "example.com..",
      ".example.com",
      "a..example.com",
      ".",
    ]],
    ["whitespace instead of trimming it", /whitespace/, [
      " example.com",
      "ex ample.com",
      "a.com\n",
    ]],
    ["control and invisible characters", /invisible/, [
      "exa\tmple.com",
      "exa\u200dmple.com",
      "\u202eexample.com",
      // A soft hyphen would otherwise vanish in IDNA mapping and pass as "example.com".
      "exa\u00admple.com",
    ]],
    ["wildcards", /wildcard/, ["*.example.com", "*", "www.*.com"]],
    ["IP addresses, including forms a URL parser reads as one", /IP addresses/, [
      "127.0.0.1",
      "10.0.0.1",
      "0x7f.1",
      "0x7f.0x1",
      "1.2.3",
      "2130706433",
    ]],
    ["localhost names", /localhost/, ["localhost", "LOCALHOST.", "app.localhost"]],
    ["single labels", /two labels/, ["intranet", "com."]],
    ["labels over 63 characters", /longer than 63/, [`${"a".repeat(64)}.com`]],
    ["names over 253 characters", /253/, [`a${NAME_253}`, "a.".repeat(5000) + "com"]],
    ["hyphens at either end of a label", /hyphen/, ["-example.com", "example-.com", "a.-com"]],
    // Bun's converter reads "a/b.com" as "a" and "a%2eb.com" as "a.b.com": neither gets that far.
    ["punctuation a URL parser would cut at, decode or drop", /only letters/, [
      "example.com/evil",
      "evil.com/example.com",
      "a%2eb.com",
      "user@example.com",
      "example.com:443",
      "example.com?x",
      "example.com#x",
      "a_b.com",
      "example.com\\evil",
      "[::1]",
      // "⒈" maps to "1.": a dot nobody typed.
      "a\u2488com",
    ]],
    // "ͺ" maps to " ι"; Deno's converter keeps that space in its output.
    ["broken punycode and Unicode that maps to a space", /internationalised/, [
      "xn--zz.com",
      "a\u037ab.com",
    ]],
  ];
  for (const [rule, reason, texts] of refusals) {
    test(`refuses ${rule}`, () => {
      for (const text of texts) {
        const result = normaliseDomain(text);
        expect({ text, refused: !result.ok, reason: result.ok ? "" : result.reason })
          .toEqual({ text, refused: true, reason: expect.stringMatching(reason) });
      }
    });
  }

  test("shows a look-alike Unicode domain as the punycode it really is", () => {
    const result = normaliseDomain("ex\u0430mple.com"); // Cyrillic "а"
    expect(result.ok && result.domain.startsWith("xn--")).toBe(true);
  });
});

describe("CreateSiteInput", () => {
  test("fills in defaults and normalises every domain", () => {
    const { data, fields } = parse(CreateSiteInput, {
      ...BASE,
      domain: "Bücher.Example.",
      aliases: ["WWW.bücher.example", "shop.example.com."],
    });
    expect(fields).toEqual({});
    expect(data).toEqual({
      hostId: "host_abc234",
      domain: "xn--bcher-kva.example",
      aliases: ["www.xn--bcher-kva.example", "shop.example.com"],
      docroot: "public",
      env: {},
    });
  });

  test("keeps the optional fields it is given", () => {
    const { data } = parse(CreateSiteInput, {
      ...BASE,
      runtime: "frankenphp",
      docroot: "web/public",
      workerScript: "public/worker.php",
      env: { APP_ENV: "prod", _X1: "" },
    });
    expect(data).toMatchObject({
      runtime: "frankenphp",
      docroot: "web/public",
      workerScript: "public/worker.php",
      env: { APP_ENV: "prod", _X1: "" },
    });
    expect(parse(CreateSiteInput, { ...BASE, docroot: "", workerScript: null }).data)
      .toMatchObject({ docroot: "", workerScript: null });
  });

  test("names the failing alias and quotes it in the message", () => {
    const { fields } = parse(CreateSiteInput, {
      ...BASE,
      aliases: ["a.example.com", "b.example.com", "ex ample.com"],
    });
    expect(fields).toEqual({
      "aliases.2": '"ex ample.com" is not a valid domain name: must not contain whitespace, ' +
        "control or invisible characters",
    });
  });

  test("refuses aliases that repeat one another or the domain once normalised", () => {
    expect(
      parse(CreateSiteInput, { ...BASE, aliases: ["www.example.com", "WWW.example.com."] }).fields,
    ).toEqual({ "aliases.1": "repeats aliases.0" });
    expect(parse(CreateSiteInput, { ...BASE, aliases: ["www.example.com", "EXAMPLE.com."] }).fields)
      .toEqual({ "aliases.1": "repeats the domain" });
  });

  test("refuses more than 50 aliases", () => {
    const aliases = (count: number) => Array.from({ length: count }, (_, i) => `a${i}.example.com`);
    expect(failedFields(CreateSiteInput, { ...BASE, aliases: aliases(50) })).toEqual([]);
    expect(failedFields(CreateSiteInput, { ...BASE, aliases: aliases(51) })).toEqual(["aliases"]);
  });

  test("refuses unknown fields, enabled, and a missing host or domain", () => {
    expect(failedFields(CreateSiteInput, { ...BASE, port: 8080 })).toEqual(["(body)"]);
    expect(failedFields(CreateSiteInput, { ...BASE, enabled: true })).toEqual(["(body)"]);
    expect(failedFields(CreateSiteInput, { domain: "example.com" })).toEqual(["hostId"]);
    expect(failedFields(CreateSiteInput, { hostId: BASE.hostId })).toEqual(["domain"]);
  });

  test("refuses host ids of another shape", () => {
    for (const hostId of ["", "host_", "site_abc", "host_ABC", "host_a/b", "host_a\n", 7]) {
      expect(failedFields(CreateSiteInput, { ...BASE, hostId })).toEqual(["hostId"]);
    }
  });

  test("accepts only the known runtimes", () => {
    for (const runtime of ["frankenphp", "php-cli"]) {
      expect(failedFields(CreateSiteInput, { ...BASE, runtime })).toEqual([]);
    }
    for (const runtime of ["php-fpm", "FRANKENPHP", "", null]) {
      expect(failedFields(CreateSiteInput, { ...BASE, runtime })).toEqual(["runtime"]);
    }
  });

  test("refuses paths that leave the release or read as an option", () => {
    for (const path of ["../x", "public/../../etc", "/var/www", "public/", "./public", "-rf"]) {
      expect(failedFields(CreateSiteInput, { ...BASE, docroot: path })).toEqual(["docroot"]);
      expect(failedFields(CreateSiteInput, { ...BASE, workerScript: path }))
        .toEqual(["workerScript"]);
    }
    expect(failedFields(CreateSiteInput, { ...BASE, docroot: "web/--help" })).toEqual(["docroot"]);
    expect(failedFields(CreateSiteInput, { ...BASE, workerScript: "" })).toEqual(["workerScript"]);
    expect(failedFields(CreateSiteInput, { ...BASE, docroot: "a".repeat(1025) }))
      .toEqual(["docroot"]);
  });

  test("names each refused environment variable", () => {
    const { fields } = parse(CreateSiteInput, {
      ...BASE,
      env: { lower: "x", "1ST": "x", "A-B": "x", NUMBER: 1, ["X".repeat(129)]: "x", OK: "x" },
    });
    expect(Object.keys(fields).sort()).toEqual(
      ["env.1ST", "env.A-B", "env.NUMBER", `env.${"X".repeat(80)}…`, "env.lower"].sort(),
    );
    expect(fields["env.lower"]).toStartWith('"lower" is not a valid variable name');
    expect(fields["env.NUMBER"]).toBe("must be a string");
  });

  test("refuses a __proto__ variable instead of dropping it", () => {
    const env = JSON.parse('{"__proto__": {"PATH": "/tmp"}, "OK": "x"}');
    expect(failedFields(CreateSiteInput, { ...BASE, env })).toEqual(["env.__proto__"]);
  });

  test("refuses NUL in a value without echoing the secret", () => {
    const { fields } = parse(CreateSiteInput, { ...BASE, env: { TOKEN: "s3cr3t-v4lue\0" } });
    expect(fields).toEqual({ "env.TOKEN": "must not contain a NUL character" });
  });

  test("caps values at 32 KiB of UTF-8 and the environment at 100 variables", () => {
    const twoByteChars = "é".repeat(16_384);
    expect(failedFields(CreateSiteInput, { ...BASE, env: { V: twoByteChars } })).toEqual([]);
    expect(failedFields(CreateSiteInput, { ...BASE, env: { V: `${twoByteChars}x` } }))
      .toEqual(["env.V"]);
    const env = (count: number) =>
      Object.fromEntries(Array.from({ length: count }, (_, i) => [`V${i}`, ""]));
    expect(failedFields(CreateSiteInput, { ...BASE, env: env(100) })).toEqual([]);
    expect(failedFields(CreateSiteInput, { ...BASE, env: env(101) })).toEqual(["env"]);
    expect(failedFields(CreateSiteInput, { ...BASE, env: ["A=1"] })).toEqual(["env"]);
    expect(failedFields(CreateSiteInput, { ...BASE, env: "A=1" })).toEqual(["env"]);
  });
});

describe("UpdateSiteInput", () => {
  test("changes only the fields given, with no defaults filled in", () => {
    expect(parse(UpdateSiteInput, { enabled: false }).data).toEqual({ enabled: false });
    expect(parse(UpdateSiteInput, { domain: "NEW.example.com.", workerScript: null }).data)
      .toEqual({ domain: "new.example.com", workerScript: null });
  });

  test("needs at least one field", () => {
    expect(parse(UpdateSiteInput, {}).fields).toEqual({
      "(body)": "must change at least one field",
    });
  });

  test("refuses moving a site to another host", () => {
    expect(failedFields(UpdateSiteInput, { hostId: "host_other", enabled: true }))
      .toEqual(["hostId"]);
  });

  test("applies the create rules to each field it is given", () => {
    const { fields } = parse(UpdateSiteInput, {
      domain: "*.example.com",
      aliases: ["a.example.com", "A.example.com"],
      docroot: "../",
      env: { bad: "x" },
      enabled: "yes",
      extra: 1,
    });
    expect(Object.keys(fields).sort()).toEqual(
      ["(body)", "aliases.1", "docroot", "domain", "enabled", "env.bad"].sort(),
    );
    expect(parse(UpdateSiteInput, { domain: "a.example.com", aliases: ["A.example.com."] }).fields)
      .toEqual({ "aliases.0": "repeats the domain" });
  });
});

describe("hostile strings", () => {
  test("the corpus holds the blns list and every group of our own", () => {
    expect(BLNS_STRINGS.length).toBeGreaterThan(400);
    for (const group of [CADDYFILE_PAYLOADS, SHELL_PAYLOADS, PATH_PAYLOADS, UNICODE_TRICKS]) {
      for (const text of group) expect(HOSTILE_STRINGS).toContain(text);
    }
  });

  // Each field either names itself in the errors or holds a value its allowlist allows anyway.
  const fieldCases = [
    {
      field: "domain",
      input: (text: string) => ({ ...BASE, domain: text }),
      stored: (data: Record<string, unknown>) => data.domain,
      pattern: DOMAIN_PATTERN,
    },
    {
      field: "aliases.2",
      input: (text: string) => ({ ...BASE, aliases: ["a.example.net", "b.example.net", text] }),
      stored: (data: Record<string, unknown>) => (data.aliases as string[])[2],
      pattern: DOMAIN_PATTERN,
    },
    {
      field: "docroot",
      input: (text: string) => ({ ...BASE, docroot: text }),
      stored: (data: Record<string, unknown>) => data.docroot,
      pattern: RELATIVE_PATH_PATTERN,
    },
    {
      field: "workerScript",
      input: (text: string) => ({ ...BASE, workerScript: text }),
      stored: (data: Record<string, unknown>) => data.workerScript,
      pattern: RELATIVE_PATH_PATTERN,
    },
    {
      field: "env.",
      input: (text: string) => ({ ...BASE, env: { [text]: "value" } }),
      stored: (data: Record<string, unknown>) => Object.keys(data.env as object)[0],
      pattern: ENV_NAME_PATTERN,
    },
  ];

  for (const { field, input, stored, pattern } of fieldCases) {
    test(`every hostile ${field.replace(/\.$/, " name")} is refused or stored inert`, () => {
      let refused = 0;
      for (const text of HOSTILE_STRINGS) {
        const { data, fields } = parse(CreateSiteInput, input(text));
        const names = Object.keys(fields);
        if (names.length > 0) {
          expect({ text, names }).toEqual({
            text,
            names: names.map((name) => name.startsWith(field) ? name : `unexpected ${name}`),
          });
          refused++;
          continue;
        }
        const value = String(stored(data ?? {}));
        expect({ text, value, allowed: pattern.test(value), unsafe: UNSAFE.test(value) })
          .toEqual({ text, value, allowed: true, unsafe: false });
      }
      // Most of the corpus is hostile to every field; an empty or ignored corpus proves nothing.
      expect(refused).toBeGreaterThan(HOSTILE_STRINGS.length / 2);
    });
  }

  test("every Caddyfile, shell and path payload is refused as a domain", () => {
    for (const text of [...CADDYFILE_PAYLOADS, ...SHELL_PAYLOADS, ...PATH_PAYLOADS]) {
      expectDomainRefused(text);
    }
  });

  test("every path payload is refused as a docroot and a worker script", () => {
    for (const text of PATH_PAYLOADS) {
      expect({ text, fields: failedFields(CreateSiteInput, { ...BASE, docroot: text }) })
        .toEqual({ text, fields: ["docroot"] });
      expect({ text, fields: failedFields(CreateSiteInput, { ...BASE, workerScript: text }) })
        .toEqual({ text, fields: ["workerScript"] });
    }
  });

  test("error messages escape control and invisible characters", () => {
    for (const text of HOSTILE_STRINGS) {
      const { fields } = parse(CreateSiteInput, { ...BASE, domain: text, env: { [text]: "" } });
      for (const [name, message] of Object.entries(fields)) {
        expect({ text, name, message, raw: /[\p{C}\u2028\u2029]/u.test(name + message) })
          .toMatchObject({ raw: false });
      }
    }
  });

  test("every hostile value is kept as an environment value except those holding NUL", () => {
    for (const text of HOSTILE_STRINGS) {
      const { data, fields } = parse(CreateSiteInput, { ...BASE, env: { SECRET: text } });
      if (text.includes("\0")) {
        expect(fields).toEqual({ "env.SECRET": "must not contain a NUL character" });
      } else {
        expect({ text, fields, value: (data?.env as Record<string, string>)?.SECRET })
          .toEqual({ text, fields: {}, value: text });
      }
    }
  });
});
