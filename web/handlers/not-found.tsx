/** @jsxImportSource hono/jsx */
import type { Context } from "hono";
import type { AppEnv } from "../../api/deps.ts";
import { AppError } from "../../api/errors.ts";
import { pageUserOf } from "../page-user.ts";
import { MessagePage } from "../pages/message.tsx";

/** The 404 page of one kind of object: what is missing, and the list to go back to. */
export interface NotFound {
  title: string;
  message: string;
  back: { href: string; label: string };
}

/**
 * Runs a page handler; an object that is missing (or another tenant's, which looks the same)
 * becomes the kind's 404 page. Other refusals are not expected past the page guard and go to the
 * error handler.
 */
export async function orNotFoundPage(
  c: Context<AppEnv>,
  notFound: NotFound,
  run: () => Promise<Response>,
): Promise<Response> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof AppError) || err.code !== "not_found") throw err;
    return c.html(
      <MessagePage
        title={notFound.title}
        message={notFound.message}
        link={notFound.back}
        user={pageUserOf(c)}
      />,
      404,
    );
  }
}
