import { describe, expect, test } from "bun:test";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type CaddyRenderInput, type CaddySite, renderCaddyfile } from "./render-caddyfile.ts";
import { HOSTILE_STRINGS, PATH_PAYLOADS } from "../../scripts/testing/hostile-strings.ts";

// Golden files hold the exact expected text. After an intended change to the template or the
// renderer, rewrite them with `UPDATE_GOLDEN=1 node_modules/.bin/bun test agent/caddy/` and
// review the diff before committing it.
const UPDATE_GOLDEN = process.env.UPDATE_GOLDEN === "1";
const TESTDATA = join(import.meta.dir, "testdata");
const template = await readFile(join(import.meta.dir, "../../Caddyfile.template"), "utf8");

// The four shapes the golden files cover; caddy-check.test.ts runs each file through Caddy.
const GOLDEN_INPUTS: Record<string, CaddyRenderInput> = {
  "system-two-sites": {
    adminSocket: "/run/caddis/caddy/admin.sock",
    mode: "system",
    httpPort: 80,
    httpsPort: 443,
    logDir: "/var/log/caddis/caddy",
    panel: { domain: "panel.example.com", upstream: "127.0.0.1:8080" },
    sites: [
      { id: "site_shop", domains: ["shop.example.net"], upstreams: [20002, 20003] },
      {
        id: "site_blog",
        domains: ["blog.example.org", "www.blog.example.org", "xn--bcher-kva.example"],
        upstreams: [20001],
      },
    ],
  },
  "sandbox": {
    adminSocket: "/tmp/caddis-sandbox/caddy/admin.sock",
    mode: "sandbox",
    httpPort: 18080,
    httpsPort: null,
    logDir: "/tmp/caddis-sandbox/logs",
    panel: { domain: "panel.localhost.example", upstream: "127.0.0.1:3000" },
    sites: [{ id: "site_blog", domains: ["blog.localhost.example"], upstreams: [20001] }],
  },
  "panel-no-sites": {
    adminSocket: "/run/caddis/caddy/admin.sock",
    mode: "system",
    httpPort: 80,
    httpsPort: 443,
    logDir: "/var/log/caddis/caddy",
    panel: { domain: "panel.example.com", upstream: "127.0.0.1:8080" },
    sites: [],
  },
  "no-panel": {
    adminSocket: "/run/caddis/caddy/admin.sock",
    mode: "system",
    httpPort: 80,
    httpsPort: 443,
    logDir: "/var/log/caddis/caddy",
    panel: null,
    sites: [{ id: "site_blog", domains: ["blog.example.org"], upstreams: [20001] }],
  },
};

const base = GOLDEN_INPUTS["system-two-sites"]!;
const render = (overrides: Partial<CaddyRenderInput>) =>
  renderCaddyfile(template, { ...base, ...overrides });
const withSite = (site: Partial<CaddySite>) =>
  render({ sites: [{ id: "site_ok", domains: ["ok.example.com"], upstreams: [20001], ...site }] });

describe("renderCaddyfile golden files", () => {
  for (const [name, input] of Object.entries(GOLDEN_INPUTS)) {
    test(`renders ${name} exactly as ${name}.Caddyfile`, async () => {
      const path = join(TESTDATA, `${name}.Caddyfile`);
      const text = renderCaddyfile(template, input);
      if (UPDATE_GOLDEN) await writeFile(path, text);
      expect(text).toBe(await readFile(path, "utf8"));
    });
  }
});

describe("renderCaddyfile", () => {
  test("orders sites by id whatever the input order, keeping each site's domain order", () => {
    const reversed = render({ sites: [...base.sites].reverse() });
    expect(reversed).toBe(render({}));
    expect(reversed.indexOf("# site_blog")).toBeLessThan(reversed.indexOf("# site_shop"));
    expect(reversed).toContain(
      "blog.example.org, www.blog.example.org, xn--bcher-kva.example {",
    );
  });

  test("leaves its input untouched", () => {
    const input = structuredClone(base);
    renderCaddyfile(template, input);
    expect(input).toEqual(base);
  });

  test("sandbox mode serves plain HTTP on the given port, loopback only", () => {
    const text = renderCaddyfile(template, GOLDEN_INPUTS.sandbox!);
    expect(text).toContain("\tauto_https off\n\tdefault_bind 127.0.0.1\n");
    expect(text).toContain("\thttp_port 18080\n");
    expect(text).toContain("http://blog.localhost.example {");
    expect(render({}).includes("auto_https")).toBe(false);
  });

  test("leaves https_port out only for a sandbox without HTTPS; system mode must have one", () => {
    expect(renderCaddyfile(template, GOLDEN_INPUTS.sandbox!)).not.toContain("https_port");
    const sandboxHttps = { ...GOLDEN_INPUTS.sandbox!, httpsPort: 18443 };
    expect(renderCaddyfile(template, sandboxHttps)).toContain("\thttps_port 18443\n");
    expect(render({})).toContain("\thttps_port 443\n");
    expect(() => render({ httpsPort: null })).toThrow(
      "the host config has an invalid httpsPort (null)",
    );
  });

  test("renders 10,000 sites, each once", () => {
    const sites = Array.from({ length: 10_000 }, (_, i) => ({
      id: `site_s${i}`,
      domains: [`s${i}.example.com`, `www.s${i}.example.com`],
      upstreams: [10_000 + i],
    }));
    const text = render({ sites });
    expect(text.match(/^# site_s\d+$/gm)?.length).toBe(10_000);
    expect(text).toContain("s9999.example.com, www.s9999.example.com {");
  });

  test("refuses a domain that two sites claim, or that the panel already serves", () => {
    const a = { id: "site_a", domains: ["a.example.com"], upstreams: [20001] };
    expect(() => render({ sites: [a, { ...a, id: "site_b" }] })).toThrow(
      'site "site_b" has domain a.example.com, which site "site_a" already serves',
    );
    expect(() => withSite({ domains: ["ok.example.com", "panel.example.com"] })).toThrow(
      "which the panel already serves",
    );
    expect(() => withSite({ domains: ["ok.example.com", "ok.example.com"] })).toThrow(
      'which site "site_ok" already serves',
    );
  });

  test("refuses a site listed twice, and a site without domains or upstreams", () => {
    const a = { id: "site_a", domains: ["a.example.com"], upstreams: [20001] };
    expect(() => render({ sites: [a, { ...a, domains: ["b.example.com"] }] })).toThrow(
      'site "site_a" is listed twice',
    );
    expect(() => withSite({ domains: [] })).toThrow('site "site_ok" has an invalid domains');
    expect(() => withSite({ upstreams: [] })).toThrow('site "site_ok" has an invalid upstreams');
  });

  test("refuses ports outside their ranges, and worker ports below 1024", () => {
    for (const port of [0, -1, 65_536, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "80"]) {
      expect(() => render({ httpPort: port as number })).toThrow("invalid httpPort");
      expect(() => render({ httpsPort: port as number })).toThrow("invalid httpsPort");
      expect(() => withSite({ upstreams: [20001, port as number] })).toThrow(
        'site "site_ok" has an invalid upstreams[1]',
      );
    }
    expect(() => withSite({ upstreams: [1023] })).toThrow("invalid upstreams[0]");
    for (const upstream of ["127.0.0.1:0", "127.0.0.1:65536", "10.0.0.1:80", "127.0.0.1"]) {
      expect(() => render({ panel: { domain: "p.example.com", upstream } })).toThrow(
        "the panel has an invalid upstream",
      );
    }
  });

  test("refuses a socket path too long for a unix socket", () => {
    const long = `/run/${"a".repeat(103)}`;
    expect(() => render({ adminSocket: long })).toThrow("invalid adminSocket");
    expect(render({ adminSocket: long.slice(0, 107) })).toContain(
      `admin unix/${long.slice(0, 107)}`,
    );
  });
});

describe("renderCaddyfile template errors", () => {
  const cases: [string, string][] = [
    ["{{nope}}\n", 'line 1: unknown value "{{nope}}"'],
    ["{{site.id}}\n", 'line 1: unknown value "{{site.id}}"'],
    ["{{#panel}}\n{{site.id}}\n{{/panel}}\n", 'line 2: unknown value "{{site.id}}"'],
    ["{{#sites}}\n{{#panel}}\n{{/panel}}\n{{/sites}}\n", 'line 2: section "panel" inside'],
    ["{{#sites}}\n", '"sites" unclosed'],
    ["{{/sites}}\n", 'line 1: "{{/sites}}" closes no open section'],
    ["{{#other}}\n{{/other}}\n", 'line 1: unknown section "other"'],
    ["{{#constructor}}\n{{/constructor}}\n", 'line 1: unknown section "constructor"'],
    ["x {{ admin_socket }}\n", 'line 1: malformed "{{"'],
  ];
  for (const [text, error] of cases) {
    test(`refuses ${JSON.stringify(text)}`, () => {
      expect(() => renderCaddyfile(text, base)).toThrow(error);
    });
  }

  test("drops ## comments and keeps # comments", () => {
    expect(renderCaddyfile("## {{nope}}\n# kept {{http_port}}\n", base)).toBe("# kept 80\n");
  });
});

// The shared corpus holds plain words as well as attacks; a value made only of these characters
// cannot open a block, placeholder, comment, quote or list in a Caddyfile, so it may be accepted
// where the allowlist allows it. Anything else must be refused.
const INERT = /^[A-Za-z0-9._\/-]*$/;

/** Puts a hostile string into one field of an otherwise valid input. */
type Attack = [who: string, field: string, place: (hostile: string) => Partial<CaddyRenderInput>];
const site = (patch: Partial<CaddySite>): Partial<CaddyRenderInput> => ({
  sites: [{ id: "site_ok", domains: ["ok.example.com"], upstreams: [20001], ...patch }],
});
const ATTACKS: Attack[] = [
  ["site #0", "id", (h) => site({ id: h })],
  ["site #0", "id", (h) => site({ id: `site_${h}` })],
  ["site #0", "id", (h) => site({ id: `site_a${h}` })],
  ['site "site_ok"', "domains[0]", (h) => site({ domains: [h] })],
  ['site "site_ok"', "domains[0]", (h) => site({ domains: [`${h}.example.com`] })],
  ['site "site_ok"', "domains[0]", (h) => site({ domains: [`ok.example.com${h}`] })],
  [
    'site "site_ok"',
    "domains[1]",
    (h) => site({ domains: ["ok.example.com", `www.${h}.example.com`] }),
  ],
  ['site "site_ok"', "upstreams[0]", (h) => site({ upstreams: [h as unknown as number] })],
  ["the host config", "adminSocket", (h) => ({ adminSocket: h })],
  ["the host config", "adminSocket", (h) => ({ adminSocket: `/run/${h}` })],
  ["the host config", "adminSocket", (h) => ({ adminSocket: `/run/${h}/admin.sock` })],
  ["the host config", "logDir", (h) => ({ logDir: h })],
  ["the host config", "logDir", (h) => ({ logDir: `/var/log/${h}` })],
  ["the host config", "logDir", (h) => ({ logDir: `/var/log/${h}/caddy` })],
  [
    "the panel",
    "domain",
    (h) => ({ panel: { domain: `panel${h}.example.com`, upstream: "127.0.0.1:8080" } }),
  ],
  [
    "the panel",
    "upstream",
    (h) => ({ panel: { domain: "panel.example.com", upstream: `127.0.0.1:80${h}` } }),
  ],
  ["the host config", "mode", (h) => ({ mode: h as "system" })],
  ["the host config", "httpPort", (h) => ({ httpPort: h as unknown as number })],
  ["the host config", "httpsPort", (h) => ({ httpsPort: h as unknown as number })],
];

/** Renders with one hostile value placed; returns the output or the error message. */
function attempt(place: Attack[2], hostile: string): { output?: string; error?: string } {
  try {
    return { output: renderCaddyfile(template, { ...base, ...place(hostile) }) };
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    return { error: (err as Error).message };
  }
}

describe("renderCaddyfile refuses hostile values", () => {
  ATTACKS.forEach(([who, field, place], index) => {
    test(`in ${field} (placement ${index + 1}), naming ${who} and the field`, () => {
      const accepted: string[] = [];
      let refused = 0;
      for (const hostile of HOSTILE_STRINGS) {
        const { error } = attempt(place, hostile);
        if (error === undefined) {
          if (!INERT.test(hostile)) accepted.push(hostile);
          continue;
        }
        refused++;
        expect(error).toContain(`${who} has an invalid ${field} (`);
        // Quoted in printable ASCII, so a refused line break cannot split a log line.
        expect(error).toMatch(/^[\x20-\x7e]+$/);
      }
      expect(accepted).toEqual([]);
      expect(refused).toBeGreaterThan(HOSTILE_STRINGS.length / 2);
    });
  });

  test("every path trick (and a leading -) in the admin socket and the log directory", () => {
    const places: Attack[2][] = [
      (h) => ({ adminSocket: `/run/${h}/admin.sock` }),
      (h) => ({ logDir: `/var/log/${h}` }),
      (h) => ({ logDir: `/var/log/caddis/${h}/caddy` }),
    ];
    for (const place of places) {
      const tricks = [...PATH_PAYLOADS, "-rf", "--help"];
      const accepted = tricks.filter((hostile) => attempt(place, hostile).error === undefined);
      expect(accepted).toEqual([]);
    }
  });

  test("and empty strings wherever a value stands alone", () => {
    expect(() => withSite({ id: "" })).toThrow("site #0 has an invalid id");
    expect(() => withSite({ domains: [""] })).toThrow("invalid domains[0]");
    expect(() => render({ adminSocket: "" })).toThrow("invalid adminSocket");
    expect(() => render({ logDir: "" })).toThrow("invalid logDir");
    expect(() => render({ panel: { domain: "", upstream: "127.0.0.1:1" } })).toThrow(
      "the panel has an invalid domain",
    );
  });
});
