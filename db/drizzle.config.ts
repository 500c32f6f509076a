import { defineConfig } from "drizzle-kit";

// drizzle-kit generate reads this to write SQL migrations into db/migrations (committed).
export default defineConfig({
  dialect: "postgresql",
  schema: "./db/schema.ts",
  out: "./db/migrations",
});
