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
/** What a control inside a Field must carry, so its label, hint and error are tied to it. */
export interface FieldControlAttrs {
  id: string;
  "aria-describedby"?: string;
  "aria-invalid"?: "true";
}

/**
 * A labelled form control with its hint and error, tied to it for screen readers; `control`
 * draws the input, select or textarea with the attributes given.
 */
export function Field(props: {
  name: string;
  label: string;
  /** Defaults to `field-<name>`; set it when two forms on one page share a field name. */
  id?: string;
  hint?: string;
  error?: string;
  control: (attrs: FieldControlAttrs) => Child;
}) {
  const id = props.id ?? `field-${props.name}`;
  const hintId = props.hint ? `${id}-hint` : undefined;
  const errorId = props.error ? `${id}-error` : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(" ") || undefined;
  return (
    <div class={props.error ? "field field-invalid" : "field"}>
      <label for={id}>{props.label}</label>
      {props.control({
        id,
        "aria-describedby": describedBy,
        "aria-invalid": props.error ? "true" : undefined,
      })}
      {props.hint && <p id={hintId} class="field-hint">{props.hint}</p>}
      {props.error && <p id={errorId} class="field-error">{props.error}</p>}
    </div>
  );
}

export function FormField(props: {
  label: string;
  name: string;
  /** Defaults to `field-<name>`; set it when two forms on one page share a field name. */
  id?: string;
  type?: "text" | "password" | "email" | "url" | "number";
  value?: string;
  hint?: string;
  error?: string;
  required?: boolean;
  autocomplete?: string;
  /** Which on-screen keyboard phones show: `numeric` for one-time codes. */
  inputmode?: "text" | "numeric";
  autofocus?: boolean;
  maxlength?: number;
}) {
  return (
    <Field
      name={props.name}
      label={props.label}
      id={props.id}
      hint={props.hint}
      error={props.error}
      control={(attrs) => (
        <input
          id={attrs.id}
          name={props.name}
          type={props.type ?? "text"}
          value={props.value}
          required={props.required}
          autocomplete={props.autocomplete}
          inputmode={props.inputmode}
          autofocus={props.autofocus}
          maxlength={props.maxlength}
          aria-invalid={attrs["aria-invalid"]}
          aria-describedby={attrs["aria-describedby"]}
        />
      )}
    />
  );
}

/** Field problems keyed by name, as web/forms.ts produces them ("is required"). */
export type FieldProblems = Record<string, string> | undefined;

/**
 * A field for choosing a password: never filled back in (a password only travels from the
 * browser to us), marked `new-password` so managers offer to generate one, and explaining the rule.
 */
export function NewPasswordField(props: {
  label: string;
  name: string;
  errors: FieldProblems;
  hint?: string;
  autofocus?: boolean;
}) {
  return (
    <FormField
      label={props.label}
      name={props.name}
      type="password"
      hint={props.hint ?? "At least 12 characters; a few unrelated words make a strong one."}
      error={problemOf(props.errors, props.name, props.label)}
      autocomplete="new-password"
      required
      autofocus={props.autofocus}
    />
  );
}

/**
 * A field asking for the password the user already has: never filled back in, marked
 * `current-password` for password managers; its problems read "Password …" whatever the label.
 */
export function CurrentPasswordField(props: {
  label: string;
  name: string;
  /** Set it when two forms on one page ask for the password. */
  id?: string;
  errors: FieldProblems;
  autofocus?: boolean;
}) {
  return (
    <FormField
      label={props.label}
      name={props.name}
      id={props.id}
      type="password"
      error={problemOf(props.errors, props.name, "Password")}
      autocomplete="current-password"
      required
      autofocus={props.autofocus}
    />
  );
}

/** The error text for one field: its label, then the problem ("New password is too short"). */
export function problemOf(problems: FieldProblems, name: string, label: string) {
  const problem = problems?.[name];
  return problem === undefined ? undefined : `${label} ${problem}`;
}

/**
 * The account's email, hidden, in a form that asks for the password: password managers (and
 * Chromium's form checks) need it to tell which saved password the form is about.
 */
export function UsernameHint(props: { email: string }) {
  return <input type="email" name="username" value={props.email} autocomplete="username" hidden />;
}

/** A button; `danger` marks destructive actions, `secondary` the less important choice. */
export function Button(props: {
  type?: "submit" | "button";
  variant?: "primary" | "secondary" | "danger";
  /** The accessible name, when the visible text alone is ambiguous (one "Sign out" per row). */
  label?: string;
  children: Child;
}) {
  return (
    <button
      type={props.type ?? "submit"}
      class={`button button-${props.variant ?? "primary"}`}
      aria-label={props.label}
    >
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

/** A moment shown in UTC to the minute, machine-readable in `datetime` for tools and tooltips. */
export function Time(props: { at: Date | string }) {
  const at = typeof props.at === "string" ? new Date(props.at) : props.at;
  const iso = at.toISOString();
  return <time datetime={iso}>{`${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`}</time>;
}
