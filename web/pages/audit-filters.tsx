/** @jsxImportSource hono/jsx */
import type { AuditFilterForm, AuditFilterName } from "../handlers/audit-query.tsx";
import { Button, Field, type FieldProblems, FormField, problemOf } from "../components.tsx";

const OUTCOMES = ["success", "failure", "denied"] as const;

/** A date and time to filter from or to, down to the second. */
function TimeField(props: {
  name: "from" | "to";
  label: string;
  hint: string;
  values: AuditFilterForm;
  problems: FieldProblems;
}) {
  const error = problemOf(props.problems, props.name, props.label);
  return (
    <Field
      name={props.name}
      label={props.label}
      hint={props.hint}
      error={error}
      control={(attrs) => (
        <input
          {...attrs}
          name={props.name}
          type="datetime-local"
          step={1}
          value={props.values[props.name]}
          aria-invalid={error ? "true" : undefined}
        />
      )}
    />
  );
}

/** The filter form: a GET, so a filtered view is a URL that can be bookmarked or shared. */
export function AuditFilterFormSection(
  props: { values: AuditFilterForm; problems: FieldProblems },
) {
  const { values, problems } = props;
  const text = (name: AuditFilterName, label: string, hint?: string) => (
    <FormField
      name={name}
      label={label}
      hint={hint}
      value={values[name]}
      error={problemOf(problems, name, label)}
    />
  );
  const outcomeError = problemOf(problems, "outcome", "Outcome");
  return (
    <section class="section" aria-labelledby="filters-heading">
      <h2 id="filters-heading">Filters</h2>
      <form method="get" action="/audit">
        <div class="audit-filters">
          {text("actor", "Actor ID", "A user, token or agent id")}
          {text("action", "Action", "Exact, or a prefix ending in * (auth.*)")}
          {text("resourceType", "Resource type")}
          {text("resourceId", "Resource ID")}
          <Field
            name="outcome"
            label="Outcome"
            error={outcomeError}
            control={(attrs) => (
              <select {...attrs} name="outcome" aria-invalid={outcomeError ? "true" : undefined}>
                <option value="" selected={values.outcome === undefined}>Any</option>
                {OUTCOMES.map((outcome) => (
                  <option value={outcome} selected={values.outcome === outcome}>{outcome}</option>
                ))}
              </select>
            )}
          />
          <TimeField
            name="from"
            label="From (UTC)"
            hint="Inclusive; times are UTC, not your local time"
            values={values}
            problems={problems}
          />
          <TimeField
            name="to"
            label="To (UTC)"
            hint="Exclusive"
            values={values}
            problems={problems}
          />
        </div>
        <div class="form-actions">
          <Button>Apply filters</Button>
          <a href="/audit">Clear filters</a>
        </div>
      </form>
    </section>
  );
}
