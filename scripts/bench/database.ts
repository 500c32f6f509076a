// A throwaway database on the PostgreSQL server for one benchmark run.
import { serverClient } from "../../db/server-url.ts";

/** Creates `caddis_bench_<random>` next to the database in `url`; `drop` removes it. */
export async function createBenchDatabase(
  url: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `caddis_bench_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = serverClient(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const benchUrl = new URL(url);
  benchUrl.pathname = `/${name}`;
  let dropped = false;
  return {
    url: benchUrl.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
