// A site's worker environment at rest: the whole map as one JSON value, encrypted by the secrets
// service and bound to its site, so a value copied to another row does not decrypt. The names
// are kept in clear beside it for the pages; values leave the API only to the site's own host.
import type { SecretLocation, Secrets } from "../auth/secrets.ts";

/** Where a site's environment is stored; the AAD binds the ciphertext to this cell. */
export function siteEnvLocation(siteId: string): SecretLocation {
  return { table: "sites", column: "env_secret", row: siteId };
}

/** The `env_names` and `env_secret` columns for `env`; an empty one stores no ciphertext. */
export async function sealSiteEnv(
  secrets: Secrets,
  siteId: string,
  env: Record<string, string>,
): Promise<{ envNames: string[]; envSecret: string | null }> {
  const envNames = Object.keys(env).sort();
  if (envNames.length === 0) return { envNames, envSecret: null };
  const envSecret = await secrets.encrypt(JSON.stringify(env), siteEnvLocation(siteId));
  return { envNames, envSecret };
}

/** The environment sealed by `sealSiteEnv`; throws SecretDecryptError for a moved value. */
export async function openSiteEnv(
  secrets: Secrets,
  siteId: string,
  envSecret: string | null,
): Promise<Record<string, string>> {
  if (envSecret === null) return {};
  const text = await secrets.decryptText(envSecret, siteEnvLocation(siteId));
  return JSON.parse(text) as Record<string, string>;
}
