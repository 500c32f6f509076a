/** @jsxImportSource hono/jsx */
import { Layout } from "../layout.tsx";
import type { PageUser } from "../page-user.ts";

/** A page that only explains something (a dead setup link, say) and offers one way on. */
export function MessagePage(props: {
  title: string;
  message: string;
  link?: { href: string; label: string };
  user?: PageUser;
}) {
  return (
    <Layout title={props.title} user={props.user}>
      <div class="page-heading">
        <h1>{props.title}</h1>
      </div>
      <div class="panel">
        <p>{props.message}</p>
        {props.link && (
          <p>
            <a href={props.link.href}>{props.link.label}</a>
          </p>
        )}
      </div>
    </Layout>
  );
}
