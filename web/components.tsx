/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";

/** A table with column headers; wide tables scroll sideways instead of breaking the layout. */
export function Table(props: {
  caption: string;
  headers: string[];
  rows: Child[][];
  /** Shown in place of the rows when there are none. */
  empty?: string;
}) {
  return (
    // Focusable and labelled so keyboard users can scroll it and hear what it is.
    <div class="table-scroll" role="region" aria-label={props.caption} tabindex={0}>
      <table>
        <caption>{props.caption}</caption>
        <thead>
          <tr>
            {props.headers.map((header) => <th scope="col">{header}</th>)}
          </tr>
        </thead>
        <tbody>
          {props.rows.length === 0
            ? (
              <tr>
                <td class="table-empty" colspan={props.headers.length}>
                  {props.empty ?? "Nothing here yet."}
                </td>
              </tr>
            )
            : props.rows.map((row) => <tr>{row.map((cell) => <td>{cell}</td>)}</tr>)}
        </tbody>
      </table>
    </div>
  );
}

/** A labelled input with an optional hint and error text tied to it for screen readers. */
export function FormField(props: {
  label: string;
  name: string;
  type?: "text" | "password" | "email" | "url" | "number";
  value?: string;
  hint?: string;
  error?: string;
  required?: boolean;
  autocomplete?: string;
}) {
  const id = `field-${props.name}`;
  const hintId = props.hint ? `${id}-hint` : undefined;
  const errorId = props.error ? `${id}-error` : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(" ") || undefined;
  return (
    <div class={props.error ? "field field-invalid" : "field"}>
      <label for={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={props.type ?? "text"}
        value={props.value}
        required={props.required}
        autocomplete={props.autocomplete}
        aria-invalid={props.error ? "true" : undefined}
        aria-describedby={describedBy}
      />
      {props.hint && <p id={hintId} class="field-hint">{props.hint}</p>}
      {props.error && <p id={errorId} class="field-error">{props.error}</p>}
    </div>
  );
}

/** A button; `danger` marks destructive actions, `secondary` the less important choice. */
export function Button(props: {
  type?: "submit" | "button";
  variant?: "primary" | "secondary" | "danger";
  children: Child;
}) {
  return (
    <button type={props.type ?? "submit"} class={`button button-${props.variant ?? "primary"}`}>
      {props.children}
    </button>
  );
}

/** The states a {@link Badge} can show. */
export type BadgeState = "ok" | "warn" | "error";

/** A short state label; the text says the state too, so colour is never the only cue. */
export function Badge(props: { state: BadgeState; children: Child }) {
  return <span class={`badge badge-${props.state}`}>{props.children}</span>;
}

/** One message shown once at the top of a page, after an action. */
export interface FlashMessage {
  kind: "success" | "error" | "info";
  text: string;
}

/**
 * The flash-message area. Always rendered, even empty, so htmx responses can swap messages into
 * `#flash` later; errors are alerts, the rest polite status updates.
 */
export function Flash(props: { messages: FlashMessage[] }) {
  return (
    <div id="flash" class="flash-area">
      {props.messages.map((message) => (
        <p
          class={`flash flash-${message.kind}`}
          role={message.kind === "error" ? "alert" : "status"}
        >
          {message.text}
        </p>
      ))}
    </div>
  );
}
