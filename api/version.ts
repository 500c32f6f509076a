/** The Caddis release, shown on the status page and sent to agents. Bumped with package.json. */
export const CADDIS_VERSION = "0.1.0";
